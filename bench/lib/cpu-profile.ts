import { Session as Inspector } from "node:inspector/promises";

/**
 * Starts a V8 CPU profile of this process, sampling every `intervalUs`; `stop()` returns the profile
 * (a `.cpuprofile` object for DevTools or a script). For a bench child that profiles its measured
 * phase only, not its start-up or warm-up.
 */
export async function startCpuProfile(intervalUs: number) {
  const inspector = new Inspector();
  inspector.connect();
  await inspector.post("Profiler.enable");
  await inspector.post("Profiler.setSamplingInterval", { interval: intervalUs });
  await inspector.post("Profiler.start");
  return {
    async stop() {
      const { profile } = await inspector.post("Profiler.stop");
      inspector.disconnect();
      return profile;
    },
  };
}
