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
import math
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from imgval import __version__
from imgval.analysis.analyze import Settings
from imgval.report.atomicfile import AtomicFile
from imgval.report.dupe_listing import Group, group_numbers, list_groups
from imgval.report.reader import Results, Row
from imgval.report.thumbnails import MemoryBudget, Preview, blur_map_preview, file_preview


@dataclass(frozen=True)
class Limits:
    """How much each section shows; the rest is counted, not drawn."""

    blurry: int = 60  # images (each with its blur map)
    groups: int = 30  # duplicate groups
    members: int = 8  # images per group shown
    exif: int = 100  # table rows
    errors: int = 100  # table rows


SECTIONS = ("summary", "histogram", "blurry", "duplicates", "exif", "errors")  # element ids, in order


@dataclass
class Sections:
    """What the page shows, chosen from the rows before any image is read."""

    rows: list[Row]
    blurry: list[Row]
    blurry_total: int
    groups: list[Group]
    groups_total: int
    grouped_images: int
    exif: list[Row]
    exif_total: int
    errors: list[Row]
    errors_total: int

    def preview_paths(self) -> list[str]:
        paths = [r.filepath for r in self.blurry]
        paths += [m.row.filepath for g in self.groups for m in g.members]
        paths += [r.filepath for r in self.exif] + [r.filepath for r in self.errors]
        return list(dict.fromkeys(paths))


def choose(results: Results, radius: int | None, limits: Limits) -> Sections:
    rows = results.rows
    blurry = sorted((r for r in rows if r.blurry), key=lambda r: r.score if r.score is not None else math.inf)
    exif = [r for r in rows if r.exif_ok is False]
    errors = [r for r in rows if r.error]
    numbers = group_numbers(results, radius)
    groups, groups_total = list_groups(results, limit=limits.groups, numbers=numbers)
    for group in groups:  # the best copy first, and always among those shown
        best = group.members[group.best]
        rest = [m for i, m in enumerate(group.members) if i != group.best]
        group.hidden = max(0, len(group.members) - limits.members)
        group.members, group.best = [best] + rest[:limits.members - 1], 0
    return Sections(rows, blurry[:limits.blurry], len(blurry), groups, groups_total, int((numbers > 0).sum()),
                    exif[:limits.exif], len(exif), errors[:limits.errors], len(errors))


def make_previews(paths: Iterable[str], blur_paths: Iterable[str], jobs: int,
                  settings: Settings) -> tuple[dict[str, Preview | None], dict[str, Preview | None]]:
    """Thumbnails of `paths` and blur maps of `blur_paths`, read in parallel (decoders release
    the GIL), within the scan's limits; decodes running at once share --max-memory, so this
    process holds no more than one worker of the scan may."""
    paths, blur_paths = list(paths), list(blur_paths)
    budget = MemoryBudget(settings.max_memory)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        previews = dict(zip(paths, pool.map(
            lambda p: file_preview(p, max_pixels=settings.max_pixels, max_memory=settings.max_memory,
                                   budget=budget), paths)))
        maps = dict(zip(blur_paths, pool.map(lambda p: blur_map_preview(p, settings, budget=budget), blur_paths)))
    return previews, maps


def write_html_report(results: Results, out_path: str, threshold: float, *, source: str = "results.csv",
                      radius: int | None = None, limits: Limits = Limits(), jobs: int = 2,
                      settings: Settings | None = None) -> Sections:
    """Render and write the page atomically (temp file, then rename). Returns what it shows."""
    sections = choose(results, radius, limits)
    settings = settings or Settings(keep_pixels=True)
    previews, maps = make_previews(sections.preview_paths(), [r.filepath for r in sections.blurry], jobs,
                                   settings)
    page = render(sections, threshold, previews.get, maps.get, source)
    page_file = AtomicFile(os.path.realpath(out_path))  # through a symlink to its target, which is replaced
    try:
        page_file.handle.write(page)
        page_file.commit()
    except BaseException:
        page_file.discard()
        raise
    return sections


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
"""


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def render(sections: Sections, threshold: float, preview: PreviewOf, blur_map: PreviewOf,
           source: str = "results.csv") -> str:
    body = "\n".join([
        _summary(sections, threshold, source),
        _histogram_section(sections.rows, threshold),
        _blurry_section(sections, preview, blur_map, source),
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
<p class="muted">From {esc(source)} &middot; imgval {esc(__version__)}</p>
{body}
</body>
</html>
"""


def _summary(s: Sections, threshold: float, source: str) -> str:
    count, in_groups = len(s.rows), s.grouped_images
    items = [
        ("", count, "images"),
        ("warn" if s.blurry_total else "", s.blurry_total,
         f"blurry ({100 * s.blurry_total / count:.1f}%)" if count else "blurry"),
        ("warn" if s.groups_total else "", s.groups_total, f"duplicate groups ({in_groups} images)"),
        ("bad" if s.exif_total else "", s.exif_total, "failing EXIF rules"),
        ("bad" if s.errors_total else "", s.errors_total, "errors"),
    ]
    cells = "".join(f'<li class="{cls}"><b>{number}</b>{esc(label)}</li>' for cls, number, label in items)
    return (f'<section id="summary"><h2>Summary</h2><ul class="counts">{cells}</ul>'
            f'<p class="muted">Blurry means a blur score below {threshold:g}. '
            f'Every row is in {esc(source)}.</p></section>')


def _histogram_section(rows: list[Row], threshold: float) -> str:
    scores = [r.score for r in rows if r.score is not None]
    if not scores:
        return '<section id="histogram"><h2>Blur scores</h2><p class="muted">No scores.</p></section>'
    return ('<section id="histogram"><h2>Blur scores</h2>'
            f'{histogram_svg(scores, threshold)}'
            '<p class="muted">Number of images per blur score (log scale); images left of the red line '
            'are flagged blurry.</p></section>')


def histogram_svg(scores: list[float], threshold: float, bins: int = 48, width: int = 760,
                  height: int = 230) -> str:
    """Counts per log10(score) bin as bars, with the threshold as a red line. Scores of 0 or
    below (flat images) fall in the first bin."""
    threshold = threshold if math.isfinite(threshold) else 0.0  # an older report's inf or nan: no line
    logs = [math.log10(s) for s in scores if s > 0]
    marks = logs + ([math.log10(threshold)] if threshold > 0 else [])
    low = math.floor(min(marks)) if marks else 0
    high = math.ceil(max(marks)) if marks else 1
    if threshold > 0:  # room right of the threshold line for its label and the sharp side
        high = max(high, math.floor(math.log10(threshold)) + 1)
    high = max(high, low + 1)
    counts = [0] * bins
    for value in scores:
        position = (math.log10(value) - low) / (high - low) if value > 0 else 0.0
        counts[min(bins - 1, max(0, int(position * bins)))] += 1
    left, right, top, bottom = 44, 24, 14, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts) or 1
    bar_w = plot_w / bins

    def x_of(log_value: float) -> float:
        return left + (log_value - low) / (high - low) * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="Histogram of blur scores">']
    for i, n in enumerate(counts):
        if not n:
            continue
        lo = 10 ** (low + (high - low) * i / bins)
        hi = 10 ** (low + (high - low) * (i + 1) / bins)
        h = n / peak * plot_h
        colour = "#d68910" if threshold > 0 and hi <= threshold else "#2e6db4"
        parts.append(f'<rect class="bar" x="{left + i * bar_w + 0.5:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" fill="{colour}">'
                     f'<title>{n} image(s) scoring {lo:.3g} to {hi:.3g}</title></rect>')
    axis_y = top + plot_h
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" stroke="#5b6477"/>')
    for decade in range(low, high + 1):
        x = x_of(decade)
        parts.append(f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="#5b6477"/>'
                     f'<text x="{x:.1f}" y="{axis_y + 16}" text-anchor="middle">{10.0 ** decade:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 2}" text-anchor="middle">blur score</text>')
    parts.append(f'<text x="{left - 6}" y="{top + 8}" text-anchor="end">{peak}</text>'
                 f'<text x="{left - 6}" y="{axis_y}" text-anchor="end">0</text>')
    if threshold > 0:
        x = x_of(math.log10(threshold))
        label_left = x > left + plot_w - 110  # keep the label inside the picture
        parts.append(f'<line id="threshold" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y}" '
                     f'stroke="#c0392b" stroke-width="2" stroke-dasharray="5 3"/>'
                     f'<text x="{x - 4 if label_left else x + 4:.1f}" y="{top + 6}" '
                     f'text-anchor="{"end" if label_left else "start"}" style="fill:#c0392b">'
                     f'threshold {threshold:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


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


def _blurry_section(s: Sections, preview: PreviewOf, blur_map: PreviewOf, source: str) -> str:
    if not s.blurry:
        return '<section id="blurry"><h2>Blurry images</h2><p class="muted">No blurry images.</p></section>'
    cards = []
    for row in s.blurry:
        score = "" if row.score is None else f"{row.score:.4g}"
        cards.append(f'<figure class="blurry"><div class="pair"><div class="frame">'
                     f'{_img(preview(row.filepath), "image")}</div><div class="frame">'
                     f'{_img(blur_map(row.filepath), "blur map")}</div></div>'
                     f'<figcaption>score {esc(score)} &middot; {_name(row.filepath)}</figcaption></figure>')
    return (f'<section id="blurry"><h2>Blurry images ({s.blurry_total})</h2>'
            f'<p class="muted">Blurriest first. Beside each image, its blur map: bright where it is sharp, '
            f'dark where it is blurred.</p><div class="grid">{"".join(cards)}</div>'
            f'{_more(len(s.blurry), s.blurry_total, "blurry images", source)}</section>')


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
