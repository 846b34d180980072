// Charts: grouped bars drawn as SVG by Preact (histograms, benchmark comparisons), lines drawn by uPlot (losses).
import { html } from "htm/preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

const COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed"];

/** Bars per label, one per series; `max` fixes the scale (e.g. 1 for rates). */
export function Bars({ labels, series, max, title, format = (v) => String(v) }) {
  const top = max ?? Math.max(1, ...series.flatMap((s) => s.values));
  const groupWidth = 100 / Math.max(labels.length, 1);
  const barWidth = (groupWidth * 0.8) / series.length;
  return html`<figure class="bars">
    <figcaption>${title}</figcaption>
    <svg viewBox="0 0 100 50" preserveAspectRatio="none" role="img" aria-label=${title}>
      ${labels.map((label, i) => series.map((s, j) => {
        const value = s.values[i] || 0;
        const height = (value / top) * 48;
        return html`<rect x=${i * groupWidth + groupWidth * 0.1 + j * barWidth} y=${50 - height} width=${barWidth}
          height=${height} fill=${COLORS[j % COLORS.length]}><title>${`${label} ${s.name}: ${format(value)}`}</title></rect>`;
      }))}
    </svg>
    <div class="bar-labels">${labels.map((label) => html`<span>${label}</span>`)}</div>
    ${series.length > 1 && html`<div class="legend">${series.map((s, j) => html`<span>
      <i style=${`background:${COLORS[j % COLORS.length]}`}></i>${s.name}</span>`)}</div>`}
  </figure>`;
}

/** A line chart of `series` (each {label, values}) over `x`, redrawn in place as the data grows. */
export function Lines({ x, series, title }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = [x, ...series.map((s) => s.values)];
  useEffect(() => {
    const width = Math.min(box.current.clientWidth || 600, 900);
    plot.current = new uPlot({
      width, height: 220, title,
      scales: { x: { time: false } },
      axes: [{ label: "step" }, { label: "loss" }],
      series: [{ label: "step" }, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i], width: 2, spanGaps: true }))],
    }, data, box.current);
    // Follow the page's width (a narrower window, a rotated tablet).
    const resize = new ResizeObserver(() => plot.current.setSize({ width: Math.min(box.current.clientWidth, 900), height: 220 }));
    resize.observe(box.current);
    return () => { resize.disconnect(); plot.current.destroy(); };
  }, [series.length]);
  useEffect(() => plot.current && plot.current.setData(data), [JSON.stringify(data)]);
  return html`<div class="lines" ref=${box} role="img" aria-label=${title}></div>`;
}
