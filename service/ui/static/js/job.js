// The job page: state and live progress, the request, result tables and image artifacts inline.
import { api, fetchBlob } from "./api.js";
import { el, formatDate, formatNumber, initLayout, poll, progressCell, reportError, showError, stateBadge } from "./layout.js";
import { resultView } from "./result_view.js";
import { downloadBlob } from "./table.js";

const INLINE_IMAGES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const jobId = decodeURIComponent(location.pathname.split("/").pop());
const $ = (id) => document.getElementById(id);
let resultShown = false;

function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.filter(([, v]) => v !== null && v !== undefined && v !== "")
    .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

function renderJob(job) {
  document.title = `${job.kind} ${job.id} - bdlopt`;
  $("title").textContent = `${job.kind} job ${job.id}`;
  $("status").replaceChildren(kv([
    ["state", stateBadge(job.state)], ["progress", progressCell(job)], ["message", job.message],
    ["epoch", job.epoch], ["log marglik", job.log_marglik === null ? null : formatNumber(job.log_marglik)],
    ["attempt", `${job.attempt} of ${job.max_attempts}`], ["error", job.error], ["worker", job.worker],
    ["created", formatDate(job.created_at)], ["started", formatDate(job.started_at)],
    ["finished", formatDate(job.finished_at)],
  ]));
  $("request").replaceChildren(kv([
    ["dataset", job.dataset], ["target", job.target], ["task", job.task], ["device", job.device], ["queue", job.queue],
  ]), el("pre", { class: "json", id: "job-config" }, JSON.stringify({ model: job.model, config: job.config }, null, 2)));
}

async function renderResult() {
  const result = await api(`/v1/jobs/${encodeURIComponent(jobId)}/result`);
  $("result").replaceChildren(resultView(result.result));
  $("result-card").hidden = false;
  const base = `/v1/jobs/${encodeURIComponent(jobId)}/artifacts/`;
  const images = result.artifacts.filter((a) => INLINE_IMAGES.has(a.media_type));
  for (const artifact of images) {
    const blob = await fetchBlob(base + encodeURIComponent(artifact.name));
    $("plots").append(el("figure", {}, el("img", { src: URL.createObjectURL(blob), alt: artifact.name }),
      el("figcaption", {}, artifact.name)));
  }
  $("plots-card").hidden = images.length === 0;
  $("artifacts").replaceChildren(el("ul", {}, result.artifacts.map((a) => el("li", {},
    el("a", { href: "#", onclick: (event) => {
      event.preventDefault();
      fetchBlob(base + encodeURIComponent(a.name)).then((blob) => downloadBlob(a.name, blob)).catch(reportError);
    } }, a.name),
    ` (${a.media_type}, ${a.size_bytes} bytes)`))));
  $("artifacts-card").hidden = result.artifacts.length === 0;
}

async function refresh() {
  const job = await api(`/v1/jobs/${encodeURIComponent(jobId)}`);
  renderJob(job);
  showError("");
  if (job.state === "succeeded" && !resultShown) {
    resultShown = true;
    await renderResult();
  }
  return !FINAL.has(job.state);
}

initLayout(() => { resultShown = false; $("plots").replaceChildren(); refresh().catch(reportError); });
poll(refresh, 1);
