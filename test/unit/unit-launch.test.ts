/**
 * bench/unit-launch.ts reads the node flags and environment out of the systemd unit, so the
 * benchmarks launch the gateway as a Pi does. It must read the shipped unit, and refuse a unit
 * it cannot read fully rather than drop part of the launch.
 */
import { describe, expect, it } from "vitest";
import { parseUnitLaunch, unitLaunch } from "../../bench/unit-launch.js";

const unit = (lines: string[]) => ["[Unit]", "Description=x", "", "[Service]", ...lines, "", "[Install]", "WantedBy=multi-user.target"].join("\n");

describe("parseUnitLaunch", () => {
  it("takes the flags between node and the script, and every Environment= word", () => {
    const l = parseUnitLaunch(
      unit([
        "# Environment=COMMENTED=1",
        "Environment=A=1 B=two",
        'Environment="C=three words" D=',
        "Environment=A=again",
        "ExecStart=node --max-semi-space-size=2 --expose-gc /opt/hikari-gw/dist/cli.js run --config /etc/hikari-gw/config.yaml",
      ]),
    );
    expect(l.nodeFlags).toEqual(["--max-semi-space-size=2", "--expose-gc"]);
    expect(l.env).toEqual({ A: "again", B: "two", C: "three words", D: "" });
    expect(l.describe).toBe("A=again B=two C=three words D= node --max-semi-space-size=2 --expose-gc");
  });

  it("reads a unit without flags or environment as a plain node launch", () => {
    const l = parseUnitLaunch(unit(["ExecStart=node /opt/hikari-gw/dist/cli.js run"]));
    expect(l).toEqual({ nodeFlags: [], env: {}, describe: "node" });
  });

  it("refuses what it would misread", () => {
    expect(() => parseUnitLaunch(unit(["Environment=A=1"]))).toThrow(/no ExecStart/);
    expect(() => parseUnitLaunch(unit(["ExecStart=/usr/bin/env node x.js"]))).toThrow(/expected "node FLAGS/);
    // A flag's value as a separate word would be taken for the script.
    expect(() => parseUnitLaunch(unit(["ExecStart=node --max-semi-space-size 2 /opt/x/dist/cli.js run"]))).toThrow(/--name=value/);
    expect(() => parseUnitLaunch(unit(["ExecStart=-node /opt/x/dist/cli.js"]))).toThrow(/prefixes/);
    expect(() => parseUnitLaunch(unit(["ExecStart=node $FLAGS /opt/x/dist/cli.js"]))).toThrow(/\$/);
    expect(() => parseUnitLaunch(unit(["EnvironmentFile=/etc/default/hikari-gw", "ExecStart=node /opt/x/dist/cli.js"]))).toThrow(/EnvironmentFile/);
    expect(() => parseUnitLaunch(unit(["ExecStart=node \\", "  /opt/x/dist/cli.js"]))).toThrow(/continuation/);
    expect(() => parseUnitLaunch(unit(["Environment=A", "ExecStart=node /opt/x/dist/cli.js"]))).toThrow(/NAME=value/);
    expect(() => parseUnitLaunch(unit(["ExecStart=node a.js", "ExecStart=node b.js"]))).toThrow(/more than one/);
  });

  it("reads the shipped systemd/hikari-gw.service", () => {
    const l = unitLaunch();
    for (const f of l.nodeFlags) expect(f).toMatch(/^--[a-z0-9-]+(=\S+)?$/);
    expect(l.describe).toMatch(/\bnode\b/);
  });
});
