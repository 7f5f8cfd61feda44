"""surrogate_options of the LLA surrogate: the options model and the API's 422 answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.api.app import create_app
from service.config import Settings
from service.optimizers.lla_options import LLAOptions

SPACE = [{"name": "x", "type": "float", "low": 0.0, "high": 1.0}]


@pytest.fixture
def client(sqlite_database) -> Iterator[TestClient]:
    app = create_app(Settings(migrate_on_startup=False), database=sqlite_database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _body(options: dict, surrogate: str = "lla") -> dict:
    return {"name": "s", "parameters": SPACE, "objectives": [{"name": "f"}], "surrogate": surrogate,
            "surrogate_options": options}


def test_defaults_and_mapping_to_the_core_config() -> None:
    config = LLAOptions().to_config()
    assert (config.width, config.depth, config.activation) == (50, 2, "gelu")
    custom = LLAOptions(width=8, depth=3, activation="tanh", epochs=300, warm_epochs=30, noise_floor=0.01)
    config = custom.to_config()
    assert (config.width, config.depth, config.activation, config.epochs, config.warm_epochs) == (8, 3, "tanh", 300, 30)
    assert config.min_noise_sd == 0.01 and custom.to_config(safe=True).min_noise_sd == pytest.approx(0.1)
    assert LLAOptions().to_config().variance_calibration == "loo"
    assert LLAOptions(variance_calibration="off").to_config().variance_calibration == "off"
    assert LLAOptions().trust_region_side == 0.3 and all(LLAOptions().uses_trust_region(n, 8) for n in range(5))
    assert not LLAOptions().uses_trust_region(3, 9) and not LLAOptions(trust_region_side=0).uses_trust_region(3, 2)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"width": 0}, "width"), ({"depth": 9}, "depth"), ({"activation": "sigmoid"}, "activation"),
     ({"epochs": 100, "warm_epochs": 200}, "warm_epochs"), ({"colour": "red"}, "colour"),
     ({"noise_floor": -1}, "noise_floor"), ({"variance_calibration": "cv"}, "variance_calibration")],
)
def test_bad_options_are_rejected_naming_the_field(options: dict, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        LLAOptions.model_validate(options)
    assert info.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"width": 0}, "width"), ({"activation": "sigmoid"}, "activation"), ({"colour": 1}, "colour"),
     ({"epochs": 100, "warm_epochs": 200}, "warm_epochs"), ({"trust_region_side": 2}, "trust_region_side"),
     ({"trust_region_share": -0.5}, "trust_region_share")],
)
def test_api_answers_422_naming_body_surrogate_options_field(client: TestClient, options: dict, field: str) -> None:
    response = client.post("/v1/studies", json=_body(options))
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["loc"] == ["body", "surrogate_options", field]
    assert f"body.surrogate_options.{field}" in body["detail"]


def test_api_accepts_lla_with_good_options_and_still_refuses_options_for_gp(client: TestClient) -> None:
    response = client.post("/v1/studies", json=_body({"width": 16, "activation": "tanh"}))
    assert response.status_code == 201, response.text
    assert response.json()["surrogate"] == "lla"
    assert response.json()["surrogate_options"] == {"width": 16, "activation": "tanh"}
    assert client.post("/v1/studies", json=_body({"width": 16}, surrogate="gp")).status_code == 422
