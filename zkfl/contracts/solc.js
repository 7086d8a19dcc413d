#!/usr/bin/env node
// A native-solc-compatible front end to solc-js (npm `solc`, pinned in package.json).
//
//   node solc.js --version
//   node solc.js --standard-json < input.json > output.json
//
// It reads standard input asynchronously: solc-js's own CLI reads it synchronously and fails
// with EAGAIN on pipes about half the time. zkFL calls it directly, and ezkl reaches it through a
// `solc-0.8.20` shim in a project-local $HOME/.svm (ezkl looks for solc nowhere else). It ships
// inside the zkfl package; node finds `solc` through NODE_PATH, set to the toolchain's node_modules.
"use strict";
const solc = require("solc");

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes("--version")) {
    const full = solc.version(); // e.g. 0.8.20+commit.a1b79de6.Emscripten.clang
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${full}\n`);
    return;
  }
  if (!args.includes("--standard-json")) {
    process.stderr.write("usage: solc.js --version | --standard-json < input.json\n");
    process.exit(2);
  }
  const output = solc.compile(await readStdin());
  process.stdout.write(output);
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
