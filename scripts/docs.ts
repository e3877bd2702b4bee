// Regenerates the README's profile table from components/ (npm run docs).
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { withProfileDocs } from "../components/profile/docs";

const readme = path.join(__dirname, "..", "README.md");
writeFileSync(readme, withProfileDocs(readFileSync(readme, "utf8")));
