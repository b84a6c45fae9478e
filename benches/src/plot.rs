//! The recall-vs-QPS plot: recall@k on x, QPS on a log y axis, one line per
//! (library, mode, threads), as ann-benchmarks draws it.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::row::PlotPoint;

/// Draws `points` to a PNG at `path` (1200 × 800) titled `title`.
///
/// # Errors
/// A drawing or encoding error, with the path.
pub fn recall_qps_png(path: &Path, title: &str, points: &[PlotPoint]) -> Result<(), String> {
    // Text needs a font; bundle one so no system fonts are required.
    register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the bundled DejaVu font failed to load".to_string())?;
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    // Files with several rounds hold several rows per ef: plot the median.
    let mut by_ef: BTreeMap<(String, usize), Vec<(f64, f64)>> = BTreeMap::new();
    for p in points.iter().filter(|p| p.qps > 0.0) {
        let key = format!("{} {} t{}", p.lib, p.mode, p.threads);
        by_ef
            .entry((key, p.efs))
            .or_default()
            .push((p.recall, p.qps));
    }
    let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for ((key, _), mut rounds) in by_ef {
        rounds.sort_by(|a, b| a.1.total_cmp(&b.1));
        series
            .entry(key)
            .or_default()
            .push(rounds[rounds.len() / 2]);
    }
    for line in series.values_mut() {
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let all = series.values().flatten();
    let x_min = all.clone().map(|p| p.0).fold(1.0f64, f64::min).min(0.95) - 0.01;
    let (y_min, y_max) = all.fold((f64::MAX, 1.0f64), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let root = BitMapBackend::new(path, (1200, 800)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_min.max(0.0)..1.0, (y_min * 0.8..y_max * 1.25).log_scale())
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("recall@10")
        .y_desc("queries per second (log)")
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(|e| fail(&e))?;
    for (i, (name, line)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(line.iter().copied(), color.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(PointSeries::of_element(
                line.iter().copied(),
                4,
                color.filled(),
                &|c, s, st| Circle::new(c, s, st),
            ))
            .map_err(|e| fail(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}
