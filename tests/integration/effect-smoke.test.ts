import { strict as assert } from "assert";
import { mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { runEffect } from "../../bench/effect";

// A smoke of `npm run bench -- effect`: one short round of the connection-burst row on a lab host.
// It asserts the result's shape and that the sampler read the counters, never an effect size or a time.
describe("bench effect (smoke): one quick round of the HighConnectionRateProfile row", function () {
    this.timeout(5 * 60 * 1000);
    let outDir: string;
    before(() => (outDir = mkdtempSync(path.join(tmpdir(), "plt-effect-smoke-"))));
    after(() => rmSync(outDir, { recursive: true, force: true }));

    it("writes a JSON and a Markdown result with the counters read before and after the profile", async function () {
        const { result, files } = await runEffect({ rows: ["hcr"], rounds: 1, quick: true, outDir });
        assert.deepEqual(files.map((f) => path.extname(f)), [".json", ".md"]);
        assert.deepEqual(JSON.parse(readFileSync(files[0], "utf8")), JSON.parse(JSON.stringify(result)));
        assert.equal(result.rows.length, 1);
        const [row] = result.rows;
        assert.equal(row.profile, "HighConnectionRateProfile");
        assert.equal(row.defaults.length, 1);
        assert.equal(row.tuned.length, 1);
        for (const run of [...row.defaults, ...row.tuned]) {
            for (const counter of ["TcpExt.ListenOverflows", "TcpExt.ListenDrops"]) {
                const delta = run.counters[counter];
                assert.ok(typeof delta === "number" && Number.isInteger(delta) && delta >= 0, `${counter}: ${delta}`);
            }
            assert.equal(run.value, run.counters["TcpExt.ListenOverflows"]);
        }
        for (const s of [row.summary.defaults, row.summary.tuned]) {
            assert.ok(Number.isFinite(s.median) && s.min <= s.median && s.median <= s.max, JSON.stringify(s));
        }
        assert.equal(result.machine.loadAverageStart.length, 3);
        const md = readFileSync(files[1], "utf8");
        assert.match(md, /\| HighConnectionRateProfile \|/);
        assert.match(md, /load average/);
    });
});
