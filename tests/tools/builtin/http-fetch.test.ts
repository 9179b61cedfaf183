import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EgressFirewall } from "../../../src/security/egress/egress-firewall.js";
import { httpFetchTool } from "../../../src/tools/builtin/http-fetch.js";
import { callTurn, contentOf, scriptHarness, tempDir } from "../../helpers.js";
import { type LoopbackServer, startServer, text } from "../../security/egress/loopback-servers.js";

function resultOf(content: unknown): Record<string, unknown> {
  return JSON.parse(contentOf(content));
}

describe("http_fetch (built-in, opt-in with config.egress)", () => {
  let app: LoopbackServer;
  let firewall: EgressFirewall;
  beforeAll(async () => {
    app = await startServer((req, res) => {
      if (req.url === "/big") text("y".repeat(300 * 1024))(req, res);
      else text('{"hello":"world"}', "application/json")(req, res);
    });
    firewall = new EgressFirewall({ allow: ["127.0.0.1"], ports: [app.port], allowAddresses: ["127.0.0.1"] });
  });
  afterAll(() => app.close());

  it("is not registered without config.egress (no network tool by default)", () => {
    const h = scriptHarness([], { workspace: tempDir() });
    expect(h.tools).not.toContain("http_fetch");
    expect(scriptHarness([], { egress: { allow: [] } }).tools).toContain("http_fetch");
  });

  it("is MEDIUM, read-only and idempotent, like curl's shell:network classification", () => {
    const tool = httpFetchTool({ firewall });
    expect(tool.risk).toEqual({
      level: "MEDIUM",
      reason: "fetches a URL through the egress firewall (network read, untrusted response)",
    });
    expect(tool.readOnly).toBe(true);
    expect(tool.idempotent).toBe(true);
  });

  it("returns the response as data for an allowed URL", async () => {
    const h = scriptHarness([callTurn("http_fetch", { url: `${app.origin}/x` }), { say: "ok" }], {
      egress: firewall,
    });
    const r = await h.session().run("go");
    expect(resultOf(r.messages[2]?.content[0])).toMatchObject({
      status: 200,
      body: '{"hello":"world"}',
      contentType: "application/json",
      truncated: false,
    });
    expect(app.hits).toContain(`GET /x 127.0.0.1:${app.port}`);
  });

  it("a URL the firewall refuses is BLOCKed by the policy before the tool runs (the firewall is the policy's egress)", async () => {
    const hits = app.hits.length;
    const h = scriptHarness(
      [callTurn("http_fetch", { url: "http://169.254.169.254/latest/meta-data/" }), { say: "ok" }],
      { egress: firewall },
    );
    const r = await h.session().run("go");
    const error = resultOf(r.messages[2]?.content[0]).error as { type: string; message: string };
    expect(error.type).toBe("blocked");
    expect(error.message).toMatch(/169\.254\.169\.254/);
    expect(app.hits.length).toBe(hits);
  });

  it("a refusal found at connect time (a name resolving to loopback) is the tool error egress_denied", async () => {
    const strict = new EgressFirewall({
      allow: ["loop.test"],
      ports: [app.port],
      resolver: async () => ["127.0.0.1"],
    });
    const tool = httpFetchTool({ firewall: strict });
    const controller = new AbortController();
    const err = await tool
      .execute({ url: `http://loop.test:${app.port}/` }, { signal: controller.signal } as never)
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toMatchObject({ name: "ToolFailure", type: "egress_denied" });
    expect((err as Error).message).toMatch(/loop\.test resolves to 127\.0\.0\.1 is loopback/);
  });

  it("caps the body at 256 KiB by default", async () => {
    const tool = httpFetchTool({ firewall });
    const r = (await tool.execute({ url: `${app.origin}/big` }, {
      signal: new AbortController().signal,
    } as never)) as {
      bytes: number;
      truncated: boolean;
    };
    expect(r).toMatchObject({ bytes: 256 * 1024, truncated: true });
  });

  it("invalid egress options are a ConfigError from createHarness", () => {
    expect(() => scriptHarness([], { egress: { allow: ["*.*"] } })).toThrow(/egress allow entry/);
  });
});
