//! Server-rendered charts: plotters draws the bars as SVG (no JavaScript
//! on the page); labels, legend and totals are HTML beside it, so the SVG
//! holds no text — no font is needed and nothing a user typed is in the
//! markup the template embeds unescaped.

use std::collections::HashMap;

use plotters::prelude::*;

use crate::domain::Money;
use crate::web::error::AppError;

/// Colours of the series, distinguishable with the common colour-vision
/// deficiencies (Okabe–Ito); the last is "everything else".
const PALETTE: [(u8, u8, u8); 6] = [
    (0, 114, 178),
    (230, 159, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
    (213, 94, 0),
];
const OTHERS: (u8, u8, u8) = (153, 153, 153);
/// Series drawn on their own; the rest are summed as "Others".
const MAX_SERIES: usize = 5;

/// One stacked series: a label, its colour and an amount per day.
pub struct Series {
    /// What it is (a project's name, a model).
    pub label: String,
    /// `#rrggbb`, for the legend's swatch.
    pub colour: String,
    /// Its total over the chart's days.
    pub total: Money,
    rgb: (u8, u8, u8),
    per_day: Vec<i64>,
}

/// A chart of amounts per day, stacked by series.
pub struct DailyChart {
    /// The SVG markup (bars and baseline only).
    pub svg: String,
    /// The series, largest first, for the legend.
    pub series: Vec<Series>,
    /// The highest day's total (the top of the scale).
    pub peak: Money,
}

/// Groups `(day index, key, amount)` points into at most five series by
/// total plus "Others", labelled by `label_of`.
pub fn group(
    days: usize,
    points: impl IntoIterator<Item = (usize, String, i64)>,
    label_of: impl Fn(&str) -> String,
) -> Vec<Series> {
    let mut by_key: HashMap<String, Vec<i64>> = HashMap::new();
    for (day, key, amount) in points {
        if day < days {
            by_key.entry(key).or_insert_with(|| vec![0; days])[day] += amount;
        }
    }
    let mut ranked: Vec<(String, Vec<i64>)> = by_key.into_iter().collect();
    ranked.sort_by(|a, b| {
        let total = |s: &[i64]| s.iter().sum::<i64>();
        total(&b.1).cmp(&total(&a.1)).then_with(|| a.0.cmp(&b.0))
    });
    let mut series = Vec::new();
    let mut others = vec![0; days];
    for (rank, (key, per_day)) in ranked.into_iter().enumerate() {
        if rank < MAX_SERIES {
            series.push(make_series(label_of(&key), PALETTE[rank], per_day));
        } else {
            others.iter_mut().zip(per_day).for_each(|(o, d)| *o += d);
        }
    }
    if others.iter().any(|&d| d > 0) {
        series.push(make_series("Others".to_owned(), OTHERS, others));
    }
    series
}

fn make_series(label: String, rgb: (u8, u8, u8), per_day: Vec<i64>) -> Series {
    Series {
        label,
        colour: format!("#{:02x}{:02x}{:02x}", rgb.0, rgb.1, rgb.2),
        total: Money::from_micros(per_day.iter().sum()),
        rgb,
        per_day,
    }
}

/// Draws `series` stacked per day, one bar per day.
pub fn daily(days: usize, series: Vec<Series>) -> Result<DailyChart, AppError> {
    let peak = (0..days)
        .map(|d| series.iter().map(|s| s.per_day[d]).sum::<i64>())
        .max()
        .unwrap_or(0);
    let mut svg = String::new();
    draw(&mut svg, days, peak.max(1), &series)
        .map_err(|e| AppError::Internal(format!("chart: {e}")))?;
    Ok(DailyChart {
        svg,
        series,
        peak: Money::from_micros(peak),
    })
}

fn draw<'a>(
    svg: &'a mut String,
    days: usize,
    peak: i64,
    series: &[Series],
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (720, 180)).into_drawing_area();
    let width = days.max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .margin(2)
        .build_cartesian_2d(0.0..width, 0.0..peak as f64)?;
    let mut base = vec![0_i64; days];
    for one in series {
        let colour = RGBColor(one.rgb.0, one.rgb.1, one.rgb.2);
        let bars: Vec<_> = (0..days)
            .filter(|&d| one.per_day[d] > 0)
            .map(|d| {
                let (bottom, top) = (base[d], base[d] + one.per_day[d]);
                base[d] = top;
                let x = d as f64;
                Rectangle::new(
                    [(x + 0.15, bottom as f64), (x + 0.85, top as f64)],
                    colour.filled(),
                )
            })
            .collect();
        chart.draw_series(bars)?;
    }
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.0), (width, 0.0)],
        BLACK.stroke_width(1),
    )))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_five_are_drawn_and_the_rest_summed() {
        let points = (0..7).map(|i| (i % 3, format!("p{i}"), (i as i64 + 1) * 10));
        let series = group(3, points, |key| key.to_uppercase());
        let labels: Vec<&str> = series.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(labels, ["P6", "P5", "P4", "P3", "P2", "Others"]);
        assert_eq!(series[5].total, Money::from_micros(30));
        let chart = daily(3, series).expect("chart");
        assert!(chart.svg.starts_with("<svg") && chart.svg.contains("<rect"));
        assert!(!chart.svg.contains("<text"), "no text in the SVG");
        assert_eq!(chart.peak, Money::from_micros(120));
    }
}
