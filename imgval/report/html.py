"""A finished report (results.csv/.json) as one self-contained HTML page a person can look at.

Self-contained: inline CSS, inline SVG, thumbnails as JPEG data URIs; no script, and a
Content-Security-Policy that forbids loading anything from anywhere, so the page works
offline and a hostile file name cannot make it fetch or run anything. Every value from the
report (file names above all) is escaped.

Bounded for large batches: each section shows its first few images (blurriest first, largest
groups first) and says how many more results.csv holds; images are read again only for the
thumbnails shown.
"""
from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from imgval import __version__
from imgval.analysis.analyze import Settings
from imgval.analysis.quiet import stderr_silenced
from imgval.escaped_names import on_disk
from imgval.report.atomicfile import AtomicFile
from imgval.report.dupe_listing import Group, group_numbers, list_groups
from imgval.report.reader import BlurVerdict, Results, Row, verdict_of
from imgval.report.thumbnails import MemoryBudget, Preview, blur_map_preview, file_preview

log = logging.getLogger("imgval")


@dataclass(frozen=True)
class Limits:
    """How much each section shows; the rest is counted, not drawn."""

    blurry: int = 60  # images (each with its blur map)
    unjudged: int = 60  # images too small or blank to judge
    groups: int = 30  # duplicate groups
    members: int = 8  # images per group shown
    exif: int = 100  # table rows
    errors: int = 100  # table rows


SECTIONS = ("summary", "histogram", "blurry", "unjudged", "duplicates", "exif", "errors")  # element ids, in order


@dataclass
class Sections:
    """What the page shows, chosen from the rows before any image is read."""

    rows: list[Row]
    blurry: list[Row]
    blurry_total: int
    unjudged: list[Row]  # readable images with no blur verdict: too small, blank (blur_status)
    unjudged_total: int
    groups: list[Group]
    groups_total: int
    grouped_images: int
    exif: list[Row]
    exif_total: int
    errors: list[Row]
    errors_total: int
    missing_previews: int = 0  # readable files that could not be previewed (see warn_missing_previews)

    def preview_paths(self) -> list[str]:
        paths = [r.filepath for r in self.blurry] + [r.filepath for r in self.unjudged]
        paths += [m.row.filepath for g in self.groups for m in g.members]
        paths += [r.filepath for r in self.exif] + [r.filepath for r in self.errors]
        return list(dict.fromkeys(paths))


def choose(results: Results, radius: int | None, limits: Limits, verdict: BlurVerdict | None = None) -> Sections:
    rows = results.rows
    verdict = verdict or verdict_of(results)
    blurry = sorted((r for r in rows if r.blurry), key=lambda r: _or_inf(verdict.value(r)))
    unjudged = [r for r in rows if r.blurry is None and not r.error and r.blur_status]
    exif = [r for r in rows if r.exif_ok is False]
    errors = [r for r in rows if r.error]
    numbers = group_numbers(results, radius)
    groups, groups_total = list_groups(results, limit=limits.groups, numbers=numbers)
    for group in groups:  # the best copy first, and always among those shown
        best = group.members[group.best]
        rest = [m for i, m in enumerate(group.members) if i != group.best]
        group.hidden = max(0, len(group.members) - limits.members)
        group.members, group.best = [best] + rest[:limits.members - 1], 0
    return Sections(rows, blurry[:limits.blurry], len(blurry), unjudged[:limits.unjudged], len(unjudged), groups,
                    groups_total, int((numbers > 0).sum()), exif[:limits.exif], len(exif), errors[:limits.errors],
                    len(errors))


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


def make_previews(paths: Iterable[str], blur_paths: Iterable[str], jobs: int, settings: Settings,
                  locate: Callable[[str], str] = str) -> tuple[dict[str, Preview | None], dict[str, Preview | None]]:
    """Thumbnails of `paths` and blur maps of `blur_paths` (report filepaths, read from
    locate(path)), in parallel (decoders release the GIL), within the scan's limits; decodes
    running at once share --max-memory, so this process holds no more than one worker of the
    scan may."""
    paths, blur_paths = list(paths), list(blur_paths)
    budget = MemoryBudget(settings.max_memory)
    # the decoders' libraries' chatter kept off the terminal (analysis/quiet.py); this thread only waits meanwhile
    with stderr_silenced(), ThreadPoolExecutor(max(1, jobs)) as pool:
        previews = dict(zip(paths, pool.map(
            lambda p: file_preview(locate(p), max_pixels=settings.max_pixels, max_memory=settings.max_memory,
                                   budget=budget), paths)))
        maps = dict(zip(blur_paths, pool.map(lambda p: blur_map_preview(locate(p), settings, budget=budget),
                                             blur_paths)))
    return previews, maps


def warn_missing_previews(sections: Sections, previews: dict, base: str | None,
                          locate: Callable[[str], str] = str) -> int:
    """Files the scan read but that cannot be shown now: a page of "no preview" boxes must not
    pass in silence. Said apart: files not found (moved, renamed, or the report was opened
    from elsewhere) and files found that could not be decoded now (changed since the scan, or
    a damaged file the scan's decoder read and the preview's refuses)."""
    readable = [r.filepath for r in sections.rows if not r.error and r.filepath in previews]
    missing = [p for p in readable if previews[p] is None]
    found = [os.path.lexists(on_disk(locate(p))) for p in missing]
    gone = [p for p, there in zip(missing, found) if not there]
    undecoded = [p for p, there in zip(missing, found) if there]
    if gone:
        log.warning("%d of %d images could not be previewed: not found (first: %s); relative paths were "
                    "looked up from %s", len(gone), len(readable), gone[0], base or os.getcwd())
    if undecoded:
        log.warning("%d of %d images could not be previewed: found, but not decoded now (changed since the "
                    "scan, or damaged; first: %s)", len(undecoded), len(readable), undecoded[0])
    return len(missing)


def write_html_report(results: Results, out_path: str, verdict: BlurVerdict | None = None, *,
                      source: str = "results.csv", radius: int | None = None, limits: Limits = Limits(),
                      jobs: int = 2, settings: Settings | None = None) -> Sections:
    """Render and write the page atomically (temp file, then rename). Returns what it shows.
    verdict: what the blurry column means (default: the report's own, reader.verdict_of);
    settings: how blur maps are made (default: as the report's metadata says it was scanned)."""
    verdict = verdict or verdict_of(results)
    sections = choose(results, radius, limits, verdict)
    settings = settings or map_settings(results.meta, verdict)
    previews, maps = make_previews(sections.preview_paths(), [r.filepath for r in sections.blurry], jobs,
                                   settings, results.locate)
    sections.missing_previews = warn_missing_previews(sections, previews, results.base, results.locate)
    page = render(sections, verdict, previews.get, maps.get, source, results.meta)
    page_file = AtomicFile(os.path.realpath(out_path))  # through a symlink to its target, which is replaced
    try:
        page_file.handle.write(page)
        page_file.commit()
    except BaseException:
        page_file.discard()
        raise
    return sections


def map_settings(meta: dict, verdict: BlurVerdict) -> Settings:
    """Settings that decode as the scan did (its mode, from the report's metadata) and draw the
    blur map of the report's verdict."""
    from imgval.defaults import MODES

    mode = meta.get("mode") if meta.get("mode") in MODES else "default"
    if verdict.kind == "sharpness":
        return Settings(mode=mode, blur_verdict="sharpness", sharpness_threshold=verdict.threshold, keep_pixels=True)
    return Settings(mode=mode, threshold=verdict.threshold, blur_verdict="classic", keep_pixels=True)


# ---- rendering: pure functions of the chosen rows and their previews ----

PreviewOf = Callable[[str], "Preview | None"]

CSS = """
:root { --fg:#1d2433; --muted:#5b6477; --line:#d9dee8; --bad:#c0392b; --warn:#d68910; --ok:#1e8449;
        --accent:#2e6db4; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0 auto; max-width: 1200px; padding: 1.5rem; color: var(--fg); background: #f7f8fb; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem;
          margin: 1rem 0; }
.muted, .more { color: var(--muted); font-size: .9rem; }
.counts { display: flex; flex-wrap: wrap; gap: .75rem; margin: 0; padding: 0; list-style: none; }
.counts li { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; min-width: 8rem; }
.counts b { display: block; font-size: 1.4rem; }
.counts .bad b { color: var(--bad); } .counts .warn b { color: var(--warn); }
.grid { display: flex; flex-wrap: wrap; gap: .75rem; }
figure { margin: 0; width: 336px; border: 1px solid var(--line); border-radius: 6px; padding: 6px;
         background: #fff; }
figure.dupe { width: 172px; }
figure.best { border: 2px solid var(--ok); padding: 5px; }
.pair { display: flex; gap: 4px; }
.frame { width: 160px; height: 160px; display: flex; align-items: center; justify-content: center;
         background: #eef0f4; border-radius: 4px; overflow: hidden; }
.frame img { max-width: 160px; max-height: 160px; height: auto; }
.noprev { color: var(--muted); font-size: .8rem; text-align: center; padding: .5rem; }
figcaption { font-size: .8rem; margin-top: 4px; overflow-wrap: anywhere; }
figcaption .path { color: var(--muted); }
.badge { display: inline-block; background: var(--ok); color: #fff; border-radius: 3px; padding: 0 4px;
         font-size: .75rem; font-weight: 600; }
.group { border-top: 1px solid var(--line); padding: .75rem 0; }
.group:first-of-type { border-top: 0; }
table { border-collapse: collapse; width: 100%; font-size: .85rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); padding: 6px; }
td.thumb { width: 84px; } td.thumb img { max-width: 80px; max-height: 80px; width: auto; height: auto; }
td.file { overflow-wrap: anywhere; max-width: 28rem; }
svg text { font-size: 11px; fill: var(--muted); }
dl.run { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; font-size: .9rem; margin: .5rem 0; }
dl.run dt { color: var(--muted); } dl.run dd { margin: 0; overflow-wrap: anywhere; }
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def render(sections: Sections, verdict: BlurVerdict, preview: PreviewOf, blur_map: PreviewOf,
           source: str = "results.csv", meta: dict | None = None) -> str:
    body = "\n".join([
        _run_block(meta or {}),
        _summary(sections, verdict, source),
        _histogram_section(sections.rows, verdict),
        _blurry_section(sections, verdict, preview, blur_map, source),
        _unjudged_section(sections, preview, source),
        _duplicates_section(sections, preview, source),
        _table_section("exif", "EXIF failures", sections.exif, sections.exif_total, "exif_issues", preview,
                       source, "No image fails the EXIF rules."),
        _table_section("errors", "Errors", sections.errors, sections.errors_total, "error", preview, source,
                       "Every file could be read and decoded."),
    ])
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>imgval report: {esc(os.path.basename(source))}</title>
<style>{CSS}</style>
</head>
<body>
<h1>imgval report</h1>
<p class="muted">From {esc(source)} &middot; page made by imgval {esc(__version__)}</p>
{body}
</body>
</html>
"""


RUN_FIELDS = (("created", "Scanned"), ("imgval", "imgval version"), ("mode", "Scoring mode"),
              ("blur_verdict", "Blur verdict"), ("sharpness_threshold", "Sharpness threshold"),
              ("threshold", "Blur score threshold (classic)"), ("profile", "EXIF profile"), ("dup_radius", "Duplicate radius"),
              ("inputs", "Inputs"))


def _run_block(meta: dict) -> str:
    """What the scan was made with, from the report's metadata (runmeta)."""
    if not meta:
        return ('<dl id="run" class="muted">The scan\'s settings (date, mode, threshold, profile, inputs) '
                'were not recorded with this report: it was made by an older imgval, or its '
                'results.meta.json was not kept beside it.</dl>')
    items = []
    for key, label in RUN_FIELDS:
        value = meta.get(key)
        if key == "inputs" and isinstance(value, list):
            value = ", ".join(map(str, value))
        elif key == "profile" and meta.get("profile_file"):
            value = f"{value} ({meta['profile_file']})"
        elif key in ("threshold", "sharpness_threshold") and isinstance(value, (int, float)):
            value = f"{value:g}"
        if value not in (None, ""):
            items.append(f"<dt>{esc(label)}</dt><dd>{esc(value)}</dd>")
    return f'<dl id="run" class="run">{"".join(items)}</dl>'


def _summary(s: Sections, verdict: BlurVerdict, source: str) -> str:
    count, in_groups = len(s.rows), s.grouped_images
    items = [
        ("", count, "images"),
        ("warn" if s.blurry_total else "", s.blurry_total,
         f"blurry ({100 * s.blurry_total / count:.1f}%)" if count else "blurry"),
        ("warn" if s.unjudged_total else "", s.unjudged_total, "too small or blank to judge"),
        ("warn" if s.groups_total else "", s.groups_total, f"duplicate groups ({in_groups} images)"),
        ("bad" if s.exif_total else "", s.exif_total, "failing EXIF rules"),
        ("bad" if s.errors_total else "", s.errors_total, "errors"),
    ]
    cells = "".join(f'<li class="{cls}"><b>{number}</b>{esc(label)}</li>' for cls, number, label in items)
    return (f'<section id="summary"><h2>Summary</h2><ul class="counts">{cells}</ul>'
            f'<p class="muted">{_threshold_text(verdict)} '
            f'Every row is in {esc(source)}.</p></section>')


def _threshold_text(verdict: BlurVerdict) -> str:
    if verdict.inferred:
        return (f"Blurry means a {verdict.measure} below the scan's threshold, which this report does not "
                f"record; its values put it at or below {verdict.threshold:.4g}.")
    if verdict.kind == "sharpness":
        return (f"Blurry means a sharpness below {verdict.threshold:g}; the original's verdict (blur score "
                f"below its threshold) is in the blurry_classic column.")
    return f"Blurry means the original's verdict: a blur score below {verdict.threshold:g}."


def _histogram_section(rows: list[Row], verdict: BlurVerdict) -> str:
    title = "Sharpness" if verdict.kind == "sharpness" else "Blur scores"
    scored = [(verdict.value(r), bool(r.blurry)) for r in rows if verdict.value(r) is not None]
    if not scored:
        return f'<section id="histogram"><h2>{title}</h2><p class="muted">No values.</p></section>'
    values, flags = [v for v, _ in scored], [f for _, f in scored]
    log_scale = verdict.kind == "classic"
    return (f'<section id="histogram"><h2>{title}</h2>'
            f'{histogram_svg(values, verdict.threshold, flags, label=verdict.measure, log_scale=log_scale)}'
            f'<p class="muted">Number of images per {verdict.measure}{" (log scale)" if log_scale else ""}: the '
            f'orange part of a bar counts its images flagged blurry, the blue part the others; the red line is '
            f'the threshold.</p></section>')


def histogram_svg(scores: list[float], threshold: float, blurry: list[bool] | None = None, bins: int = 48,
                  width: int = 760, height: int = 230, label: str = "blur score", log_scale: bool = True) -> str:
    """Counts per bin of log10(value) (or of the value itself) as bars, with the threshold as a
    red line. Each bar is split into its blurry images (orange, below) and the others (blue,
    above), by the rows' own flags (default: value < threshold), so a bar the threshold cuts
    shows both. On the log scale, values of 0 or below (flat images) fall in the first bin."""
    if blurry is None:
        blurry = [score < threshold for score in scores]
    threshold = threshold if math.isfinite(threshold) else 0.0  # an older report's inf or nan: no line
    axis = _LogAxis(scores, threshold) if log_scale else _LinearAxis(scores, threshold)
    counts, blurry_counts = [0] * bins, [0] * bins
    for value, flagged in zip(scores, blurry):
        index = min(bins - 1, max(0, int(axis.position(value) * bins)))
        counts[index] += 1
        blurry_counts[index] += flagged
    left, right, top, bottom = 44, 24, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts) or 1
    bar_w = plot_w / bins

    def x_of(value: float) -> float:
        return left + axis.position(value) * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="Histogram of {label}">']
    for i, n in enumerate(counts):
        if not n:
            continue
        lo, hi = axis.value_at(i / bins), axis.value_at((i + 1) / bins)
        title = f"{n} image(s) with {label} {lo:.3g} to {hi:.3g}, {blurry_counts[i]} flagged blurry"
        base_y = top + plot_h
        for kind, count, colour in (("blurry", blurry_counts[i], "#d68910"), ("sharp", n - blurry_counts[i], "#2e6db4")):
            if not count:
                continue
            h = count / peak * plot_h
            base_y -= h
            parts.append(f'<rect class="bar {kind}" x="{left + i * bar_w + 0.5:.1f}" y="{base_y:.1f}" '
                         f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{title}</title></rect>')
    axis_y = top + plot_h
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#5b6477"/>')
    for tick in axis.ticks():
        x = x_of(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#5b6477"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 2}" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>'
                 f'<text x="{left - 6}" y="{axis_y}" text-anchor="end">0</text>')
    if threshold > 0:
        x = x_of(threshold)
        label_left = x > left + plot_w - 110  # keep the label inside the picture
        parts.append(f'<line id="threshold" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y}" '
                     f'stroke="#c0392b" stroke-width="2" stroke-dasharray="5 3"/>'
                     f'<text x="{x - 4 if label_left else x + 4:.1f}" y="{top + 6}" '
                     f'text-anchor="{"end" if label_left else "start"}" style="fill:#c0392b">'
                     f'threshold {threshold:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


class _LogAxis:
    """Whole decades around the values and the threshold, with room right of the threshold."""

    def __init__(self, values: list[float], threshold: float):
        marks = [math.log10(v) for v in values if v > 0] + ([math.log10(threshold)] if threshold > 0 else [])
        self.low = math.floor(min(marks)) if marks else 0
        high = math.ceil(max(marks)) if marks else 1
        if threshold > 0:  # room right of the threshold line for its label and the sharp side
            high = max(high, math.floor(math.log10(threshold)) + 1)
        self.high = max(high, self.low + 1)

    def position(self, value: float) -> float:
        return (math.log10(value) - self.low) / (self.high - self.low) if value > 0 else 0.0

    def value_at(self, position: float) -> float:
        return 10 ** (self.low + (self.high - self.low) * position)

    def ticks(self) -> list[float]:
        return [10.0 ** decade for decade in range(self.low, self.high + 1)]


class _LinearAxis:
    """From 0 (or the lowest value) to a round step past the highest value and the threshold."""

    def __init__(self, values: list[float], threshold: float):
        marks = values + ([threshold] if threshold > 0 else [])
        top = max(marks) * 1.1 if marks and max(marks) > 0 else 1.0
        self.step = _round_step(top / 5)
        self.low = min(0.0, math.floor(min(marks) / self.step) * self.step) if marks else 0.0
        self.high = math.ceil(top / self.step) * self.step

    def position(self, value: float) -> float:
        return (value - self.low) / (self.high - self.low)

    def value_at(self, position: float) -> float:
        return self.low + (self.high - self.low) * position

    def ticks(self) -> list[float]:
        count = round((self.high - self.low) / self.step)
        return [round(self.low + i * self.step, 10) for i in range(count + 1)]


def _round_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, at least `rough`."""
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


def _img(preview: Preview | None, alt: str) -> str:
    if preview is None:
        return '<div class="noprev">no preview</div>'
    return (f'<img src="{preview.uri}" width="{preview.width}" height="{preview.height}" alt="{esc(alt)}" '
            f'loading="lazy" decoding="async">')


def _name(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1] or path
    return f'<b>{esc(name)}</b><br><span class="path" title="{esc(path)}">{esc(path)}</span>'


def _more(shown: int, total: int, what: str, source: str) -> str:
    if total <= shown:
        return ""
    return f'<p class="more">and {total - shown} more {what}, see {esc(source)}</p>'


def _blurry_section(s: Sections, verdict: BlurVerdict, preview: PreviewOf, blur_map: PreviewOf,
                   source: str) -> str:
    if not s.blurry:
        return '<section id="blurry"><h2>Blurry images</h2><p class="muted">No blurry images.</p></section>'
    cards = []
    for row in s.blurry:
        value = verdict.value(row)
        shown_value = "" if value is None else f"{value:.4g}"
        cards.append(f'<figure class="blurry"><div class="pair"><div class="frame">'
                     f'{_img(preview(row.filepath), "image")}</div><div class="frame">'
                     f'{_img(blur_map(row.filepath), "blur map")}</div></div>'
                     f'<figcaption>{verdict.measure} {esc(shown_value)} &middot; {_name(row.filepath)}'
                     f'</figcaption></figure>')
    if verdict.kind == "sharpness":
        legend = ("Beside each image, where it is sharp: green where the detail is sharp, orange where it is "
                  "blurred, untinted where there is no detail to judge (sky, walls, blank paper).")
    else:
        legend = "Beside each image, its blur map: bright where it is sharp, dark where it is blurred."
    return (f'<section id="blurry"><h2>Blurry images ({s.blurry_total})</h2>'
            f'<p class="muted">Blurriest first. {legend}</p><div class="grid">{"".join(cards)}</div>'
            f'{_more(len(s.blurry), s.blurry_total, "blurry images", source)}</section>')


def _unjudged_section(s: Sections, preview: PreviewOf, source: str) -> str:
    """Images with no blur verdict, in groups by reason (too small, blank)."""
    if not s.unjudged:
        return ('<section id="unjudged"><h2>Too small or blank to judge</h2>'
                '<p class="muted">Every readable image got a blur verdict.</p></section>')
    groups = []
    for status in dict.fromkeys(r.blur_status for r in s.unjudged):
        figures = "".join(f'<figure class="dupe"><div class="frame">{_img(preview(r.filepath), status)}</div>'
                          f'<figcaption>{_size_text(r, None)}<br>{_name(r.filepath)}</figcaption></figure>'
                          for r in s.unjudged if r.blur_status == status)
        heading = _UNJUDGED.get(status, status)
        groups.append(f'<div class="group" data-status="{esc(status)}"><h3 class="muted">{esc(heading)}</h3>'
                      f'<div class="grid">{figures}</div></div>')
    return (f'<section id="unjudged"><h2>Too small or blank to judge ({s.unjudged_total})</h2>'
            f'<p class="muted">No blurry verdict for these (blurry is False, blur_status says why).</p>'
            f'{"".join(groups)}{_more(len(s.unjudged), s.unjudged_total, "images", source)}</section>')


_UNJUDGED = {"too small": "Too small to judge (thumbnails and icons)",
             "blank": "Blank frames (uniform or nearly: lens cap, empty scanner bed, placeholder)"}


def _size_text(row: Row, file_bytes: int | None) -> str:
    parts = []
    if row.width and row.height:
        parts.append(f"{row.width}&times;{row.height}")
    if file_bytes is not None:
        parts.append(_bytes(file_bytes))
    return " &middot; ".join(parts)


def _bytes(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def _duplicates_section(s: Sections, preview: PreviewOf, source: str) -> str:
    if not s.groups:
        return ('<section id="duplicates"><h2>Duplicate groups</h2>'
                '<p class="muted">No duplicates.</p></section>')
    blocks = []
    for group in s.groups:
        figures = []
        for i, member in enumerate(group.members):
            best = i == group.best
            badge = '<span class="badge">best copy</span> ' if best else ""
            figures.append(f'<figure class="dupe{" best" if best else ""}"><div class="frame">'
                           f'{_img(preview(member.row.filepath), "duplicate")}</div>'
                           f'<figcaption>{badge}{_size_text(member.row, member.file_bytes)}<br>'
                           f'{_name(member.row.filepath)}</figcaption></figure>')
        hidden = group.hidden
        more = f'<p class="more">and {hidden} more in this group</p>' if hidden else ""
        blocks.append(f'<div class="group"><h3 class="muted">Group {group.number} '
                      f'({len(group.members) + hidden} files)</h3><div class="grid">{"".join(figures)}</div>'
                      f'{more}</div>')
    return (f'<section id="duplicates"><h2>Duplicate groups ({s.groups_total})</h2>'
            f'<p class="muted">Largest groups first. The best copy (most pixels, then sharpest) is outlined.</p>'
            f'{"".join(blocks)}{_more(len(s.groups), s.groups_total, "groups", source)}</section>')


def _table_section(anchor: str, title: str, rows: list[Row], total: int, field: str, preview: PreviewOf,
                   source: str, empty: str) -> str:
    if not rows:
        return f'<section id="{anchor}"><h2>{esc(title)}</h2><p class="muted">{esc(empty)}</p></section>'
    lines = []
    for row in rows:
        image = preview(row.filepath)
        thumb = _img(image, "thumbnail") if image else '<span class="noprev">no preview</span>'
        lines.append(f'<tr><td class="thumb">{thumb}</td><td class="file">{_name(row.filepath)}</td>'
                     f'<td>{esc(getattr(row, field))}</td></tr>')
    return (f'<section id="{anchor}"><h2>{esc(title)} ({total})</h2><table><thead><tr><th></th><th>File</th>'
            f'<th>{"Issues" if field == "exif_issues" else "Error"}</th></tr></thead>'
            f'<tbody>{"".join(lines)}</tbody></table>{_more(len(rows), total, "rows", source)}</section>')
