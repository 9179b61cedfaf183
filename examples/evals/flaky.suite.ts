// A flaky suite: `rein eval examples/evals/flaky.suite.ts`. The agent gets the answer right in
// about 60 % of runs. Its "randomness" is a PRNG seeded per run (suite seed, case, run index), so
// the same runs flake the same way every time: real variation, reproducible results.
import { scriptedModel } from "rein";
import { defineSuite, type RunIdentity } from "rein/evals";

/** mulberry32: a small seeded PRNG; the first draw decides the run. */
function draw(seed: number): number {
  let t = (seed + 0x6d2b79f5) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function agent(run: RunIdentity) {
  const answer = draw(run.seed) < 0.6 ? "42\n" : "24\n";
  return scriptedModel({
    name: "flaky-agent",
    turns: [
      {
        say: "Computing.",
        tool_calls: [{ tool: "write_file", input: { path: "answer.txt", content: answer } }],
      },
      { say: `The answer is ${answer.trim()}.` },
    ],
  });
}

export default defineSuite({
  name: "flaky",
  description: "An agent that transposes its digits now and then.",
  runs: 10,
  seed: 7,
  harness: { model: agent, trust: "autonomous" },
  cases: [
    {
      id: "answer",
      task: "Write the answer to answer.txt.",
      expect: { files: [{ path: "answer.txt", equals: "42\n" }], final: { contains: "42" } },
    },
    {
      id: "answer-again",
      task: "Write the answer to answer.txt, once more.",
      expect: { files: [{ path: "answer.txt", equals: "42\n" }] },
    },
  ],
});
