//! Small, deterministic SVG charts for the HTML report: a line chart over periods, a bar chart
//! with a threshold line, and a scatter plot. Every chart has a title, labelled axes with ticks
//! and, where there is more than one series, a legend. Coordinates are printed with one decimal,
//! so the same figures give the same bytes.

use std::fmt::Write;

use crate::render::xml_escape;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;

/// One line of a line chart; `None` values leave a gap.
pub(crate) struct Line<'a> {
    pub(crate) name: &'a str,
    pub(crate) values: &'a [Option<f64>],
    pub(crate) color: &'a str,
    pub(crate) dashed: bool,
}

/// A horizontal reference line.
pub(crate) struct Rule<'a> {
    pub(crate) value: f64,
    pub(crate) label: &'a str,
}

/// "Nice" tick values covering `[lo, hi]`: steps of 1, 2 or 5 times a power of ten.
fn ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, lo + 1.0)
    };
    let raw = (hi - lo) / target.max(1) as f64;
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// Ticks over `[lo, hi]`, their ends and their step.
fn axis(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64, f64, f64) {
    let ticks = ticks(lo, hi, target);
    let (first, last) = (ticks[0], ticks[ticks.len() - 1]);
    let step = if ticks.len() > 1 {
        ticks[1] - ticks[0]
    } else {
        1.0
    };
    (ticks, first, last, step)
}

fn tick_label(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize
    };
    let text = format!("{value:.decimals$}");
    if text
        .trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        text
    }
}

/// The frame of a chart: the scale of the y axis, with ticks, grid and labels drawn.
struct Frame {
    out: String,
    y_lo: f64,
    y_hi: f64,
}

impl Frame {
    fn new(title: &str, y_lo: f64, y_hi: f64, y_label: &str) -> Self {
        let mut out = String::new();
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">\n<title>{}</title>\n<text x=\"{LEFT}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
            xml_escape(title),
            xml_escape(title)
        );
        let (ticks, lo, hi, step) = axis(y_lo, y_hi, 5);
        let mut frame = Self {
            out,
            y_lo: lo,
            y_hi: hi,
        };
        for t in &ticks {
            let y = frame.y(*t);
            let _ = writeln!(
                frame.out,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e3e3e3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                tick_label(*t, step)
            );
        }
        let _ = writeln!(
            frame.out,
            "<text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"#444\"/><line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#444\"/>",
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            xml_escape(y_label),
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM,
            WIDTH - RIGHT,
            HEIGHT - BOTTOM
        );
        frame
    }

    fn y(&self, value: f64) -> f64 {
        let span = (self.y_hi - self.y_lo).max(f64::MIN_POSITIVE);
        HEIGHT - BOTTOM - (value - self.y_lo) / span * (HEIGHT - TOP - BOTTOM)
    }

    fn x_label(&mut self, x: f64, text: &str) {
        let _ = writeln!(
            self.out,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#444\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 4.0,
            HEIGHT - BOTTOM + 16.0,
            xml_escape(text)
        );
    }

    fn x_title(&mut self, text: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
            HEIGHT - 8.0,
            xml_escape(text)
        );
    }

    fn rule(&mut self, rule: &Rule) {
        let y = self.y(rule.value);
        let _ = writeln!(
            self.out,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#b03a2e\" stroke-dasharray=\"5 3\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#b03a2e\">{}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT - 2.0,
            y - 4.0,
            xml_escape(rule.label)
        );
    }

    fn legend(&mut self, entries: &[(&str, &str, bool)]) {
        let mut x = WIDTH - RIGHT;
        for (name, color, dashed) in entries.iter().rev() {
            let width = 7.0 * name.chars().count() as f64 + 30.0;
            x -= width;
            let dash = if *dashed {
                " stroke-dasharray=\"5 3\""
            } else {
                ""
            };
            let _ = writeln!(
                self.out,
                "<line x1=\"{x:.1}\" y1=\"26\" x2=\"{:.1}\" y2=\"26\" stroke=\"{color}\" stroke-width=\"2\"{dash}/><text x=\"{:.1}\" y=\"30\">{}</text>",
                x + 18.0,
                x + 22.0,
                xml_escape(name)
            );
        }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

fn x_of(i: usize, n: usize) -> f64 {
    let inner = WIDTH - LEFT - RIGHT;
    if n <= 1 {
        LEFT + inner / 2.0
    } else {
        LEFT + inner * i as f64 / (n - 1) as f64
    }
}

/// Around six evenly spaced category labels.
fn label_every(n: usize) -> usize {
    n.div_ceil(6).max(1)
}

fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// Lines over the same periods.
pub(crate) fn line_chart(title: &str, periods: &[String], lines: &[Line], y_label: &str) -> String {
    let (lo, hi) = extent(
        lines
            .iter()
            .flat_map(|l| l.values.iter().flatten().copied()),
    )
    .unwrap_or((0.0, 1.0));
    let mut frame = Frame::new(title, lo, hi, y_label);
    let n = periods.len();
    for (i, period) in periods.iter().enumerate().step_by(label_every(n)) {
        frame.x_label(x_of(i, n), period);
    }
    for line in lines {
        let dash = if line.dashed {
            " stroke-dasharray=\"6 3\""
        } else {
            ""
        };
        // A gap in the values starts a new segment.
        let mut segment: Vec<String> = Vec::new();
        let mut segments = Vec::new();
        for (i, value) in line.values.iter().enumerate() {
            match value.filter(|v| v.is_finite()) {
                Some(v) => segment.push(format!("{:.1},{:.1}", x_of(i, n), frame.y(v))),
                None => segments.push(std::mem::take(&mut segment)),
            }
        }
        segments.push(segment);
        for points in segments.iter().filter(|s| !s.is_empty()) {
            let _ = writeln!(
                frame.out,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash} points=\"{}\"/>",
                line.color,
                points.join(" ")
            );
        }
    }
    let entries: Vec<(&str, &str, bool)> =
        lines.iter().map(|l| (l.name, l.color, l.dashed)).collect();
    frame.legend(&entries);
    frame.finish()
}

/// Bars from zero, one per category, with an optional reference line; `highlight` is drawn
/// darker.
/// One bar from `zero` to `y` at `(left, width)`, with its tooltip.
fn bar(
    out: &mut String,
    (left, width): (f64, f64),
    (y, zero): (f64, f64),
    color: &str,
    tooltip: &str,
) {
    let _ = writeln!(
        out,
        "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{color}\"><title>{}</title></rect>",
        y.min(zero),
        (y - zero).abs(),
        xml_escape(tooltip)
    );
}

pub(crate) fn bar_chart(
    title: &str,
    categories: &[String],
    values: &[f64],
    highlight: Option<usize>,
    rule: Option<Rule>,
    x_title: &str,
    y_label: &str,
) -> String {
    let extra = rule.as_ref().map(|r| r.value);
    let (lo, hi) = extent(values.iter().copied().chain(extra).chain([0.0])).unwrap_or((0.0, 1.0));
    let mut frame = Frame::new(title, lo, hi, y_label);
    let n = categories.len().max(1);
    let slot = (WIDTH - LEFT - RIGHT) / n as f64;
    let zero = frame.y(0.0);
    for (i, (category, value)) in categories.iter().zip(values).enumerate() {
        let x = LEFT + slot * i as f64;
        let y = frame.y(*value);
        let color = if Some(i) == highlight {
            "#1f4e79"
        } else {
            "#8fb3d9"
        };
        let tooltip = format!("{category}: {value:.2}");
        bar(
            &mut frame.out,
            (x + slot * 0.15, slot * 0.7),
            (y, zero),
            color,
            &tooltip,
        );
        frame.x_label(x + slot / 2.0, category);
    }
    if let Some(rule) = rule {
        frame.rule(&rule);
    }
    frame.x_title(x_title);
    frame.finish()
}

/// Bars with 95% intervals drawn as whiskers (`intervals[i]` for bar i, when known).
pub(crate) fn interval_bars(
    title: &str,
    categories: &[String],
    values: &[f64],
    intervals: &[Option<(f64, f64)>],
    x_title: &str,
    y_label: &str,
) -> String {
    let ends = intervals.iter().flatten().flat_map(|(a, b)| [*a, *b]);
    let (lo, hi) = extent(values.iter().copied().chain(ends).chain([0.0])).unwrap_or((0.0, 1.0));
    let mut frame = Frame::new(title, lo, hi, y_label);
    let n = categories.len().max(1);
    let slot = (WIDTH - LEFT - RIGHT) / n as f64;
    let zero = frame.y(0.0);
    for (i, (category, value)) in categories.iter().zip(values).enumerate() {
        let x = LEFT + slot * i as f64;
        let y = frame.y(*value);
        let interval = intervals.get(i).copied().flatten();
        let shown = interval.map_or(String::new(), |(a, b)| format!(" [{a:.2}–{b:.2}]"));
        let tooltip = format!("{category}: {value:.2}{shown}");
        bar(
            &mut frame.out,
            (x + slot * 0.25, slot * 0.5),
            (y, zero),
            "#8fb3d9",
            &tooltip,
        );
        if let Some((a, b)) = interval {
            let centre = x + slot / 2.0;
            let (ya, yb) = (frame.y(a), frame.y(b));
            let _ = writeln!(
                frame.out,
                "<path d=\"M{centre:.1} {ya:.1}V{yb:.1}M{:.1} {ya:.1}H{:.1}M{:.1} {yb:.1}H{:.1}\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"/>",
                centre - 6.0,
                centre + 6.0,
                centre - 6.0,
                centre + 6.0
            );
        }
        frame.x_label(x + slot / 2.0, category);
    }
    frame.x_title(x_title);
    frame.finish()
}

/// Points `(x, y)` with their labels as tooltips.
pub(crate) fn scatter(
    title: &str,
    points: &[(f64, f64, String)],
    x_title: &str,
    y_label: &str,
) -> String {
    let (y_lo, y_hi) = extent(points.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let (x_lo, x_hi) = extent(points.iter().map(|p| p.0)).unwrap_or((0.0, 1.0));
    let mut frame = Frame::new(title, y_lo, y_hi, y_label);
    let (x_ticks, tx_lo, tx_hi, step) = axis(x_lo, x_hi, 6);
    let x = |value: f64| {
        let span = (tx_hi - tx_lo).max(f64::MIN_POSITIVE);
        LEFT + (value - tx_lo) / span * (WIDTH - LEFT - RIGHT)
    };
    for t in &x_ticks {
        frame.x_label(x(*t), &tick_label(*t, step));
    }
    for (px, py, label) in points {
        let _ = writeln!(
            frame.out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#1f4e79\" fill-opacity=\"0.75\"><title>{}</title></circle>",
            x(*px),
            frame.y(*py),
            xml_escape(label)
        );
    }
    frame.x_title(x_title);
    frame.finish()
}

/// The input tree of a star, drawn: the star's box on top, its drivers' boxes below joined by
/// "×", each with its last value and its log change over the last quarter and year (green up,
/// red down).
pub(crate) fn tree_diagram(tree: &crate::discovery::model::TreeOut) -> String {
    const BOX_W: f64 = 240.0;
    const BOX_H: f64 = 78.0;
    const GAP: f64 = 36.0;
    let n = tree.drivers.len().max(1) as f64;
    let width = (n * BOX_W + (n - 1.0) * GAP + 20.0).max(BOX_W + 20.0);
    let height = 2.0 * BOX_H + 90.0;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.1}\" height=\"{height:.1}\" viewBox=\"0 0 {width:.1} {height:.1}\" role=\"img\" font-family=\"sans-serif\">\n<title>{}</title>\n",
        xml_escape(&format!("Input tree of {}", tree.star))
    );
    let short = |text: &str| -> String {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > 30 {
            format!("{}…", chars[..29].iter().collect::<String>())
        } else {
            text.to_string()
        }
    };
    let change = |span: &str, driver: Option<&str>| -> Option<f64> {
        let c = tree.changes.iter().find(|c| c.span == span)?;
        match driver {
            Some(name) => c.parts.iter().find(|p| p.driver == name)?.log_change,
            None => (c.star_from > 0.0 && c.star_to > 0.0).then(|| (c.star_to / c.star_from).ln()),
        }
    };
    let line = |span: &str, value: Option<f64>| match value {
        Some(v) => {
            let color = if v >= 0.0 { "#1e7b34" } else { "#b03a2e" };
            format!(
                "<tspan fill=\"{color}\">{span}: {:+.1}%</tspan>",
                100.0 * (v.exp() - 1.0)
            )
        }
        None => format!("<tspan fill=\"#777\">{span}: -</tspan>"),
    };
    let draw = |out: &mut String,
                x: f64,
                y: f64,
                name: &str,
                role: &str,
                last: Option<f64>,
                driver: Option<&str>| {
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W:.1}\" height=\"{BOX_H:.1}\" rx=\"6\" fill=\"#f4f7fb\" stroke=\"#1f4e79\"/>"
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" font-weight=\"600\">{}</text>",
            x + 8.0,
            y + 18.0,
            xml_escape(&short(name))
        );
        let last = last.map_or("-".to_string(), |v| {
            if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.3}")
            }
        });
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">{} · last {}</text>",
            x + 8.0,
            y + 36.0,
            xml_escape(role),
            xml_escape(&last)
        );
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\">{} {}</text>",
            x + 8.0,
            y + 56.0,
            line("quarter", change("quarter", driver)),
            line("year", change("year", driver))
        );
    };
    let root_x = (width - BOX_W) / 2.0;
    let star_last = tree.series.last().map(|p| p.value);
    draw(
        &mut out,
        root_x,
        10.0,
        &tree.star,
        "north star",
        star_last,
        None,
    );
    let y = 10.0 + BOX_H + 70.0;
    for (i, d) in tree.drivers.iter().enumerate() {
        let x = 10.0 + i as f64 * (BOX_W + GAP);
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#888\"/>",
            root_x + BOX_W / 2.0,
            10.0 + BOX_H,
            x + BOX_W / 2.0
        );
        draw(&mut out, x, y, &d.name, &d.role, d.last, Some(&d.name));
        if i + 1 < tree.drivers.len() {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"20\" text-anchor=\"middle\">×</text>",
                x + BOX_W + GAP / 2.0,
                y + BOX_H / 2.0 + 7.0
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let labels: Vec<String> = ticks(0.0, 1.0, 5)
            .iter()
            .map(|t| tick_label(*t, 0.2))
            .collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = ticks(-0.13, 0.61, 5);
        assert!(t[0] <= -0.13 && *t.last().unwrap() >= 0.61);
        assert_eq!(tick_label(0.2, 0.2), "0.2");
        assert_eq!(tick_label(-0.0, 0.1), "0");
        assert_eq!(tick_label(1500.0, 500.0), "1500");
        // A flat series still gets an axis.
        assert!(ticks(5.0, 5.0, 5).len() >= 2);
    }

    #[test]
    fn charts_are_svg_with_escaped_text() {
        let periods: Vec<String> = (1..=12).map(|m| format!("2024-{m:02}")).collect();
        let values: Vec<Option<f64>> = (0..12).map(|i| (i != 5).then_some(f64::from(i))).collect();
        let svg = line_chart(
            "a <b> & c",
            &periods,
            &[Line {
                name: "m",
                values: &values,
                color: "#000",
                dashed: false,
            }],
            "index",
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("a &lt;b&gt; &amp; c"));
        // The gap splits the line in two.
        assert_eq!(svg.matches("<polyline").count(), 2);
        let bars = bar_chart(
            "r",
            &["3".into(), "4".into()],
            &[0.1, -0.2],
            Some(0),
            Some(Rule {
                value: 0.3,
                label: "null",
            }),
            "lag",
            "r",
        );
        assert_eq!(bars.matches("<rect").count(), 2);
        assert!(bars.contains("stroke-dasharray"));
        let dots = scatter(
            "s",
            &[(0.1, 0.2, "x".into()), (0.3, 0.1, "y".into())],
            "x",
            "y",
        );
        assert_eq!(dots.matches("<circle").count(), 2);
    }
}
