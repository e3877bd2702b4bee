// PNG charts of a bench/ansible.ts result: node bench/charts.mjs RESULT.json -> RESULT-<metric>.png.
// vega-lite compiles the spec, vega renders SVG headless, resvg-js rasterises it: all from npm,
// no native build and no browser.
import { readFileSync, writeFileSync } from "fs";
import * as vega from "vega";
import * as vl from "vega-lite";
import { Resvg } from "@resvg/resvg-js";

const file = process.argv[2];
const result = JSON.parse(readFileSync(file, "utf8"));
const OPS = { apply: "apply", "drift-check": "drift check", preview: "plain preview" };
// The drift command is ours' other drift check: drawn beside the engine's and Ansible's.
const facetOf = (r) => (r.op === "drift-report" ? { op: OPS["drift-check"], tool: "ours (drift command)" } : { op: OPS[r.op], tool: r.tool });
const METRICS = [
    ["wall", "wall time (s)", (r) => r.wallS],
    ["controller-cpu", "controller CPU per host (ms)", (r) => r.controllerCpuPerHostMs],
    ["host-cpu", "CPU inside each host (ms)", (r) => r.hostCpuPerHostMs],
];

for (const [name, title, pick] of METRICS) {
    const values = result.summary.map((r) => ({ hosts: r.n, ...facetOf(r), median: pick(r).median, min: pick(r).min, max: pick(r).max }));
    const base = { x: { field: "hosts", type: "quantitative", scale: { type: "log" }, axis: { values: [...new Set(values.map((v) => v.hosts))] } }, color: { field: "tool", type: "nominal", legend: { labelLimit: 240 } } };
    const spec = {
        data: { values },
        facet: { column: { field: "op", type: "nominal", title: null, sort: Object.values(OPS) } },
        spec: {
            width: 260,
            height: 220,
            layer: [
                { mark: { type: "line", point: true }, encoding: { ...base, y: { field: "median", type: "quantitative", title, scale: { type: "log" } } } },
                { mark: { type: "rule" }, encoding: { ...base, y: { field: "min", type: "quantitative" }, y2: { field: "max" } } },
            ],
        },
        resolve: { scale: { y: "shared" } },
        title: `${title}, medians (bars: min–max); ${result.date.slice(0, 10)}, ${result.machine.cores} cores`,
        config: { background: "white" },
    };
    const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
    const svg = await view.toSVG();
    const png = new Resvg(svg, { font: { loadSystemFonts: true }, fitTo: { mode: "zoom", value: 1.5 } }).render().asPng();
    const out = file.replace(/\.json$/, `-${name}.png`);
    writeFileSync(out, png);
    console.error(`chart: ${out}`);
}
