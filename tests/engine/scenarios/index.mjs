// The scenario handler in Node.js (an ES module): one action per event, as in every runtime of README.md here.

if (process.env.SCENARIO_INIT_FAIL === "1") {
  throw new Error("init failed");
}

let count = 0; // invokes seen by this environment since its init
const ticks = [];
const blocks = [];
let ticker = null;

export const handler = async (event) => {
  count += 1;
  switch (event.action) {
    case "count":
      return { count };
    case "echo":
      return { echo: event.value };
    case "log":
      console.log(event.text);
      return { logged: event.text };
    case "sleep":
      await new Promise((resolve) => setTimeout(resolve, event.ms));
      return { slept: event.ms };
    case "ticker":
      if (ticker === null) {
        ticks.push(Date.now());
        ticker = setInterval(() => ticks.push(Date.now()), 50);
      }
      return { ticker: true };
    case "ticks":
      return { ticks };
    case "hog":
      for (let i = 0; i < event.mb; i++) {
        blocks.push(Buffer.alloc(1024 * 1024, 1)); // outside V8's heap, filled so every page is touched
      }
      return { hogged: blocks.length };
    case "crash":
      process.exit(event.code);
    case "big":
      return "x".repeat(event.bytes);
    case "fail":
      throw new Error(event.message);
    default:
      throw new Error(`unknown action ${event.action}`);
  }
};
