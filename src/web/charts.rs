//! Chart geometry for the statistics page: plain functions from numbers to shapes in an SVG
//! `viewBox`, which the templates draw as inline SVG (no JavaScript, no style attributes: the
//! stylesheet colours them through classes, so light and dark schemes both work).
//!
//! The viewBoxes are narrow (320 units, text 12 units high) so that text stays readable when a chart is scaled down
//! to a phone's width; the calendar is wider and scrolls sideways there instead.

use chrono::{Datelike, NaiveDate};

/// Width of the bar charts' viewBox.
pub const WIDTH: f64 = 320.0;

/// A value axis from 0 to `max`, with ticks at every `step`: "nice" numbers (1, 2 or 5 times a
/// power of ten), so that the grid lines fall on round values. Computed in `i128` so that the
/// largest `i64` still has a nice maximum above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scale {
    pub max: i128,
    pub step: i128,
}

impl Scale {
    /// The scale for values up to `largest`, with about `ticks` steps (at least one).
    pub fn for_max(largest: i64, ticks: u32) -> Scale {
        let largest = i128::from(largest.max(0));
        if largest == 0 {
            return Scale { max: 1, step: 1 };
        }
        let ticks = i128::from(ticks.max(1));
        // The smallest nice step that reaches `largest` in `ticks` steps.
        let raw = (largest + ticks - 1) / ticks;
        let mut magnitude: i128 = 1;
        while magnitude * 10 <= raw {
            magnitude *= 10;
        }
        let step = [1, 2, 5, 10]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|&s| s >= raw)
            .unwrap_or(10 * magnitude);
        let max = (largest + step - 1) / step * step;
        Scale { max, step }
    }

    /// The tick values, 0 to `max`.
    pub fn ticks(&self) -> Vec<i128> {
        let steps = self.max / self.step.max(1);
        (0..=steps).map(|i| i * self.step).collect()
    }

    /// How far along the axis `value` is: 0 at zero, 1 at `max`.
    pub fn fraction(&self, value: i64) -> f64 {
        (i128::from(value.max(0)) as f64 / self.max.max(1) as f64).clamp(0.0, 1.0)
    }
}

/// Rounded to a tenth of a unit: enough for a viewBox, and short in the page.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A number for a person, with thousands separated: `12,345`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A short axis label: `950`, `12k`, `1.5M`, `3B`; beyond trillions, a power of ten.
pub fn compact(n: i128) -> String {
    let units = [
        (1_000_000_000_000, "T"),
        (1_000_000_000, "B"),
        (1_000_000, "M"),
        (1_000, "k"),
    ];
    if n.abs() >= 1_000_000_000_000_000 {
        let exponent = n.abs().ilog10();
        return format!("{}e{exponent}", n / 10i128.pow(exponent));
    }
    for (size, suffix) in units {
        if n.abs() >= size {
            let tenths = n * 10 / size;
            return if tenths % 10 == 0 {
                format!("{}{suffix}", tenths / 10)
            } else {
                format!("{}.{}{suffix}", tenths / 10, (tenths % 10).abs())
            };
        }
    }
    n.to_string()
}

/// A gridline and its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Where the line or the thing labelled is: vertical position (column charts, weekdays) or
    /// horizontal position (months).
    pub at: f64,
    /// Where the label's text sits (its baseline, or its start).
    pub text_at: f64,
    pub label: String,
}

/// One column of a column chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Centre of the column, for its labels.
    pub middle: f64,
    /// Baseline of the value's text, just above the column.
    pub value_y: f64,
    /// The category under the column; empty when there is no room to label every column.
    pub label: String,
    /// The value above the column; empty when the columns are too narrow for it.
    pub value_label: String,
    /// For the tooltip: the category and the value in full.
    pub title: String,
}

/// Vertical bars over categories (years, months, stars).
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnChart {
    pub width: f64,
    pub height: f64,
    /// Left end of the plot (right of the tick labels), right end, and the baseline.
    pub left: f64,
    pub right: f64,
    pub baseline: f64,
    /// Right end of the tick labels.
    pub tick_x: f64,
    /// Where the category labels sit.
    pub label_y: f64,
    pub ticks: Vec<Tick>,
    pub columns: Vec<Column>,
}

/// Lays out `points` (category, value) as columns; `unit` names the values in tooltips
/// ("books").
pub fn columns(points: &[(String, i64)], unit: &str) -> ColumnChart {
    let (width, height) = (WIDTH, 200.0);
    let (left, right, top, baseline) = (34.0, WIDTH - 4.0, 16.0, 172.0);
    let largest = points.iter().map(|p| p.1).max().unwrap_or(0);
    let scale = Scale::for_max(largest, 4);
    let plot = baseline - top;
    let ticks = scale
        .ticks()
        .into_iter()
        .map(|value| {
            let at = tenth(baseline - plot * (value as f64 / scale.max as f64));
            Tick {
                at,
                text_at: tenth(at + 4.0),
                label: compact(value),
            }
        })
        .collect();
    let count = points.len().max(1) as f64;
    let slot = (right - left) / count;
    let bar = slot * 0.7;
    // Label every n-th category so that labels (12-unit text, about 6.5 units a character)
    // do not collide.
    let longest_label = points
        .iter()
        .map(|p| p.0.chars().count())
        .max()
        .unwrap_or(0);
    let every = ((longest_label as f64 * 6.5 + 2.0) / slot).ceil().max(1.0) as usize;
    let columns = points
        .iter()
        .enumerate()
        .map(|(i, (label, value))| {
            let h = plot * scale.fraction(*value);
            let x = left + slot * i as f64 + (slot - bar) / 2.0;
            Column {
                x: tenth(x),
                y: tenth(baseline - h),
                width: tenth(bar),
                height: tenth(h),
                middle: tenth(x + bar / 2.0),
                value_y: tenth(baseline - h - 3.0),
                label: if i % every == 0 {
                    label.clone()
                } else {
                    String::new()
                },
                value_label: if slot >= 22.0 && *value > 0 {
                    compact(i128::from(*value))
                } else {
                    String::new()
                },
                title: format!("{label}: {} {unit}", grouped(*value)),
            }
        })
        .collect();
    ColumnChart {
        width,
        height,
        left,
        right,
        baseline,
        tick_x: left - 4.0,
        label_y: baseline + 16.0,
        ticks,
        columns,
    }
}

/// One row of a row chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Top of the bar, and the text's baseline beside it.
    pub y: f64,
    pub text_y: f64,
    pub width: f64,
    /// The name, shortened to fit; `full` is the whole name (tooltip and table).
    pub label: String,
    pub full: String,
    pub value_x: f64,
    pub value_label: String,
}

/// Horizontal bars with names (authors, tags).
#[derive(Debug, Clone, PartialEq)]
pub struct RowChart {
    pub width: f64,
    pub height: f64,
    /// Where the bars start, and where the names end (right-aligned just before).
    pub left: f64,
    pub label_x: f64,
    pub bar_height: f64,
    pub rows: Vec<Row>,
}

/// The most characters of a name shown beside its bar.
const NAME_CHARS: usize = 18;

/// Lays out `items` (name, value), largest first as given, one row each.
pub fn rows(items: &[(String, i64)]) -> RowChart {
    let (left, right, row_height, bar_height) = (128.0, WIDTH - 40.0, 24.0, 16.0);
    let largest = items.iter().map(|i| i.1).max().unwrap_or(0);
    // Bars in proportion to the largest value itself: names, not an axis, carry these.
    let longest = largest.max(1) as f64;
    let rows = items
        .iter()
        .enumerate()
        .map(|(i, (name, value))| {
            let y = 4.0 + row_height * i as f64;
            let width = (right - left) * (*value).max(0) as f64 / longest;
            Row {
                y: tenth(y),
                text_y: tenth(y + bar_height - 4.0),
                width: tenth(width.max(1.0)),
                label: shorten(name, NAME_CHARS),
                full: name.clone(),
                value_x: tenth(left + width + 4.0),
                value_label: grouped(*value),
            }
        })
        .collect();
    RowChart {
        width: WIDTH,
        height: tenth(8.0 + row_height * items.len() as f64),
        left,
        label_x: left - 6.0,
        bar_height,
        rows,
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", kept.trim_end())
}

/// A day of the reading calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub x: f64,
    pub y: f64,
    /// 0 (nothing) to 4 (the busiest days).
    pub level: u8,
    /// A day after today: drawn as an outline only.
    pub future: bool,
    /// For days with activity: the date and the count, as a tooltip.
    pub title: Option<String>,
}

/// A year of days as a grid: a column per week (Monday first), a row per weekday.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    pub width: f64,
    pub height: f64,
    pub cell: f64,
    /// Right end of the weekday names, and the baseline of the month names.
    pub label_x: f64,
    pub month_y: f64,
    pub cells: Vec<Cell>,
    /// Month names over the week in which each month begins.
    pub months: Vec<Tick>,
    /// Weekday names beside their rows (Monday, Wednesday, Friday).
    pub weekdays: Vec<Tick>,
}

pub const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// How dark a day is: by the number of readings started or finished that day.
pub fn level(events: i64) -> u8 {
    match events {
        i64::MIN..=0 => 0,
        1 => 1,
        2 => 2,
        3 | 4 => 3,
        _ => 4,
    }
}

/// Lays out every day of `year`, shading those in `active` (day, events, in order); the days
/// after `today` are marked as still to come.
pub fn calendar(year: i32, active: &[(NaiveDate, i64)], today: NaiveDate) -> Calendar {
    let (cell, gap, left, top) = (11.0, 2.0, 30.0, 16.0);
    let pitch = cell + gap;
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) else {
        return Calendar {
            width: left,
            height: top,
            cell,
            label_x: left - 4.0,
            month_y: top - 5.0,
            cells: Vec::new(),
            months: Vec::new(),
            weekdays: Vec::new(),
        };
    };
    let offset = first.weekday().num_days_from_monday();
    let position = |day: NaiveDate| {
        let index = day.ordinal0() + offset;
        let (week, weekday) = (index / 7, index % 7);
        (
            tenth(left + pitch * f64::from(week)),
            tenth(top + pitch * f64::from(weekday)),
        )
    };
    let mut events = active.iter().peekable();
    let cells = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|day| {
            let (x, y) = position(day);
            let mut count = 0;
            while let Some((d, n)) = events.peek() {
                if *d < day {
                    events.next();
                } else {
                    if *d == day {
                        count += n;
                    }
                    break;
                }
            }
            Cell {
                x,
                y,
                level: level(count),
                future: day > today,
                title: (count > 0).then(|| {
                    format!(
                        "{}: {} {}",
                        day.format("%a %-d %b %Y"),
                        count,
                        if count == 1 {
                            "reading started or finished"
                        } else {
                            "readings started or finished"
                        }
                    )
                }),
            }
        })
        .collect::<Vec<_>>();
    let months = (1..=12)
        .filter_map(|m| NaiveDate::from_ymd_opt(year, m, 1))
        .zip(MONTHS)
        .map(|(day, name)| {
            let at = position(day).0;
            Tick {
                at,
                text_at: at,
                label: name.to_string(),
            }
        })
        .collect();
    let weekdays = [(0, "Mon"), (2, "Wed"), (4, "Fri")]
        .into_iter()
        .map(|(row, name)| {
            let at = tenth(top + pitch * f64::from(row));
            Tick {
                at,
                text_at: tenth(at + cell - 1.0),
                label: name.to_string(),
            }
        })
        .collect();
    let weeks = (last.ordinal0() + offset) / 7 + 1;
    Calendar {
        width: tenth(left + pitch * f64::from(weeks)),
        height: tenth(top + pitch * 7.0),
        cell,
        label_x: left - 4.0,
        month_y: top - 5.0,
        cells,
        months,
        weekdays,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_end_on_nice_numbers() {
        assert_eq!(Scale::for_max(0, 4), Scale { max: 1, step: 1 });
        assert_eq!(Scale::for_max(-5, 4), Scale { max: 1, step: 1 });
        assert_eq!(Scale::for_max(1, 4), Scale { max: 1, step: 1 });
        assert_eq!(Scale::for_max(3, 4), Scale { max: 3, step: 1 });
        assert_eq!(Scale::for_max(7, 4), Scale { max: 8, step: 2 });
        assert_eq!(Scale::for_max(31, 4), Scale { max: 40, step: 10 });
        assert_eq!(Scale::for_max(100, 4), Scale { max: 100, step: 50 });
        assert_eq!(
            Scale::for_max(12_345, 4),
            Scale {
                max: 15_000,
                step: 5_000
            }
        );
        assert_eq!(Scale::for_max(31, 4).ticks(), [0, 10, 20, 30, 40]);
        // The largest value there is still gets a scale above it, without overflowing.
        let huge = Scale::for_max(i64::MAX, 4);
        assert!(huge.max >= i128::from(i64::MAX));
        assert_eq!(huge.step, 5_000_000_000_000_000_000);
        assert_eq!(huge.fraction(i64::MAX), 0.9223372036854776);
        assert_eq!(Scale::for_max(10, 4).fraction(-3), 0.0);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(-1_234_567), "-1,234,567");
        assert_eq!(grouped(i64::MIN), "-9,223,372,036,854,775,808");
        assert_eq!(compact(950), "950");
        assert_eq!(compact(12_000), "12k");
        assert_eq!(compact(1_500_000), "1.5M");
        assert_eq!(compact(3_000_000_000), "3B");
        assert_eq!(compact(20_000_000_000_000_000_000), "2e19");
    }

    #[test]
    fn an_empty_chart_has_an_axis_and_no_columns() {
        let chart = columns(&[], "books");
        assert!(chart.columns.is_empty());
        assert_eq!(chart.ticks.len(), 2);
        assert_eq!(chart.ticks[0].at, chart.baseline);
        let chart = rows(&[]);
        assert!(chart.rows.is_empty());
    }

    #[test]
    fn one_value_fills_the_plot() {
        let chart = columns(&[("2026".into(), 7)], "books");
        let column = &chart.columns[0];
        // The scale runs to 8, so 7 is seven eighths of the plot's 156 units.
        assert_eq!(column.height, 136.5);
        assert_eq!(column.y + column.height, chart.baseline);
        assert_eq!(column.label, "2026");
        assert_eq!(column.value_label, "7");
        assert_eq!(column.title, "2026: 7 books");
        assert!(column.x >= chart.left && column.x + column.width <= chart.right);
        let row = &rows(&[("Ursula K. Le Guin".into(), 4)]).rows[0];
        assert_eq!(row.width, 152.0);
        assert_eq!(row.value_label, "4");
    }

    #[test]
    fn zero_columns_stay_on_the_baseline() {
        let chart = columns(&[("Jan".into(), 0), ("Feb".into(), 0)], "books");
        for column in &chart.columns {
            assert_eq!(column.height, 0.0);
            assert_eq!(column.y, chart.baseline);
            assert_eq!(column.value_label, "");
        }
    }

    #[test]
    fn huge_values_stay_inside_the_chart() {
        let chart = columns(
            &[
                ("a".into(), i64::MAX),
                ("b".into(), 1),
                ("c".into(), i64::MAX / 2),
            ],
            "pages",
        );
        for column in &chart.columns {
            assert!(
                column.y >= 0.0 && column.height <= chart.baseline,
                "{column:?}"
            );
            assert!(column.height.is_finite());
        }
        assert_eq!(chart.ticks.last().map(|t| t.label.as_str()), Some("1e19"));
        assert!(chart.columns[0]
            .title
            .ends_with("9,223,372,036,854,775,807 pages"));
        let chart = rows(&[("x".into(), i64::MAX), ("y".into(), 1)]);
        assert!(chart.rows[0].width <= WIDTH);
        assert_eq!(chart.rows[1].width, 1.0, "a tiny value still shows");
    }

    #[test]
    fn many_columns_are_labelled_sparsely() {
        let points: Vec<(String, i64)> = (1990..2027).map(|y| (y.to_string(), 3)).collect();
        let chart = columns(&points, "books");
        let labelled: Vec<&str> = chart
            .columns
            .iter()
            .map(|c| c.label.as_str())
            .filter(|l| !l.is_empty())
            .collect();
        assert!(labelled.len() < 12 && labelled.len() > 3, "{labelled:?}");
        assert_eq!(labelled[0], "1990");
        assert!(chart.columns.iter().all(|c| c.value_label.is_empty()));
        let months = columns(
            &MONTHS
                .iter()
                .map(|m| (m.to_string(), 2))
                .collect::<Vec<_>>(),
            "books",
        );
        assert!(months.columns.iter().all(|c| !c.label.is_empty()));
        assert!(months.columns.iter().all(|c| c.value_label == "2"));
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(shorten("Le Guin", 20), "Le Guin");
        let long = "Gabriel García Márquez y Otros Autores";
        let short = shorten(long, 20);
        assert_eq!(short.chars().count(), 20);
        assert!(short.ends_with('…'));
    }

    #[test]
    fn the_calendar_puts_each_day_under_its_weekday() {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        // 1 January 2026 is a Thursday: the fourth row of the first column.
        let cal = calendar(
            2026,
            &[(day(1, 1), 1), (day(1, 5), 7), (day(12, 31), 2)],
            day(12, 30),
        );
        assert_eq!(cal.cells.len(), 365);
        assert_eq!((cal.cells[0].x, cal.cells[0].y), (30.0, 16.0 + 13.0 * 3.0));
        assert_eq!(cal.cells[0].level, 1);
        assert_eq!(
            cal.cells[0].title.as_deref(),
            Some("Thu 1 Jan 2026: 1 reading started or finished")
        );
        // Monday 5 January starts the second column.
        assert_eq!((cal.cells[4].x, cal.cells[4].y), (43.0, 16.0));
        assert_eq!(cal.cells[4].level, 4);
        assert_eq!(cal.cells[1].level, 0);
        assert!(cal.cells[1].title.is_none());
        assert_eq!(cal.cells[364].level, 2);
        assert!(cal.cells[364].future && !cal.cells[363].future);
        assert_eq!(cal.months.len(), 12);
        assert_eq!(cal.months[0].at, 30.0);
        assert!(cal.cells.iter().all(|c| c.x + cal.cell <= cal.width));
        // A leap year has 366 days; an empty year has all days at level 0.
        let leap = calendar(2024, &[], day(6, 1));
        assert_eq!(leap.cells.len(), 366);
        assert!(leap.cells.iter().all(|c| c.level == 0 && !c.future));
    }
}
