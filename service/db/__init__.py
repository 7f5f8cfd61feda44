"""Study database: SQLAlchemy 2 ORM models, engine/session handling and Alembic migrations."""

from service.db.engine import Database
from service.db.models import Base, ModelStateRecord, StudyRecord, TrialRecord
from service.db.job_models import ArtifactRecord, DatasetRecord, JobRecord  # noqa: E402 - registers tables
from service.db.auth_models import ApiKeyRecord  # noqa: E402 - registers tables

__all__ = ["ApiKeyRecord", "ArtifactRecord", "Base", "Database", "DatasetRecord", "JobRecord", "ModelStateRecord", "StudyRecord", "TrialRecord"]
