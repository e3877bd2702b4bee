// One engine operation on the fault suite's stack, in its own process so the suite can kill -9 it
// (and the pulumi CLI and provider under it) at any moment:  stack-op.ts <root> <lab.json> up|destroy
import { readFileSync } from "fs";
import { faultProgram } from "./program";
import { labStack } from "../integration/engine";
import type { Lab } from "../integration/lab";

const [root, labJson, op] = process.argv.slice(2);
const lab: Lab = JSON.parse(readFileSync(labJson, "utf8"));
labStack("faults", faultProgram(lab), root)
    .then((stack) => (op === "destroy" ? stack.destroy() : stack.up()))
    .then(
        () => process.exit(0),
        (e) => {
            console.error(String(e).slice(0, 2000));
            process.exit(1);
        },
    );
