import { describe, expect, it } from "vitest";
import { CommandError, type GatewayCommands } from "../gateway-api.js";
import { MAX_REQUEST_BYTES, runCommand, type CommandContext } from "./commands.js";

function rig() {
  const calls: string[] = [];
  let dnd = false;
  let missed = 3;
  const commands: GatewayCommands = {
    setDnd: (on) => {
      calls.push(`dnd ${on}`);
      dnd = on;
    },
    hangup: (id) => {
      if (id !== "all" && id !== "abc") throw new CommandError(`no call with call_id "${id}"`);
      calls.push(`hangup ${id}`);
      return 1;
    },
    resetMissed: () => {
      calls.push("reset");
      missed = 0;
    },
    dial: ({ number, extension }) => {
      if (extension === "899") throw new CommandError("no extension 899");
      calls.push(`dial ${extension ?? "-"} ${number}`);
      return { call_id: "c-1", extension: extension ?? "801", number };
    },
  };
  const ctx: CommandContext = { commands, dnd: () => dnd, missed: () => ({ count: missed, since: "2026-01-01T00:00:00.000Z" }) };
  const run = (cmd: string, payload: string | Buffer) => runCommand(cmd, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), ctx);
  return { calls, run, commands };
}

describe("bridge/request commands", () => {
  it("dnd on with a transaction: ok, data, the transaction echoed", () => {
    const r = rig();
    const out = r.run("dnd", '{"value": true, "transaction": "t-1"}');
    expect(out.response).toEqual({ status: "ok", data: { value: true }, transaction: "t-1" });
    expect(out.error).toBeUndefined();
    expect(r.calls).toEqual(["dnd true"]);
  });

  it("dnd accepts ON/OFF strings and a bare payload", () => {
    const r = rig();
    expect(r.run("dnd", '{"value":"ON"}').response.status).toBe("ok");
    expect(r.run("dnd", "off").response.status).toBe("ok");
    expect(r.calls).toEqual(["dnd true", "dnd false"]);
  });

  it("hangup by call id or all; an unknown id is an error and hangs up nothing", () => {
    const r = rig();
    expect(r.run("hangup", '{"call_id":"abc","transaction":7}').response).toEqual({ status: "ok", data: { call_id: "abc", hung_up: 1 }, transaction: 7 });
    expect(r.run("hangup", '"all"').response.status).toBe("ok");
    const bad = r.run("hangup", '{"call_id":"nope","transaction":"x"}');
    expect(bad.response).toEqual({ status: "error", error: 'no call with call_id "nope"', transaction: "x" });
    expect(r.calls).toEqual(["hangup abc", "hangup all"]);
  });

  it("dial: the call id at once; the extension optional (the gateway's default); a bare number as the payload", () => {
    const r = rig();
    expect(r.run("dial", '{"extension":"801","number":"0312345678","transaction":"x"}').response).toEqual({ status: "ok", data: { call_id: "c-1", extension: "801", number: "0312345678" }, transaction: "x" });
    expect(r.run("dial", '{"number":"03-1234-5678"}').response.status).toBe("ok");
    expect(r.run("dial", "0312345678").response.status).toBe("ok");
    expect(r.run("dial", '"+81 3 1234 5678"').response.status).toBe("ok");
    expect(r.calls).toEqual(["dial 801 0312345678", "dial - 03-1234-5678", "dial - 0312345678", "dial - +81 3 1234 5678"]);
  });

  it("dial: the gateway's refusal comes back as the error, with the transaction", () => {
    const r = rig();
    expect(r.run("dial", '{"extension":"899","number":"0312345678","transaction":9}').response).toEqual({ status: "error", error: "no extension 899", transaction: 9 });
    expect(r.calls).toEqual([]);
  });

  it("voicemail_heard marks the messages heard; with the answering machine off it is an error", () => {
    const r = rig();
    expect(r.run("voicemail_heard", "").response).toEqual({ status: "error", error: "voicemail_heard: the answering machine is off (voicemail.enabled)" });
    r.commands.voicemailHeard = () => 2;
    expect(r.run("voicemail_heard", '{"transaction":1}').response).toEqual({ status: "ok", data: { marked: 2 }, transaction: 1 });
  });

  it("missed_reset with an empty payload", () => {
    const r = rig();
    expect(r.run("missed_reset", "").response).toEqual({ status: "ok", data: { count: 0, since: "2026-01-01T00:00:00.000Z" } });
  });

  it.each([
    ["dnd", "{not json", "not valid JSON"],
    ["dnd", '{"value": 3, "transaction": "q"}', '"value" must be true or false'],
    ["dnd", "[1,2]", "JSON object"],
    ["hangup", "{}", '"call_id"'],
    ["hangup", '{"call_id": 5}', '"call_id"'],
    ["dial", "{}", '"number"'],
    ["dial", '{"number": ""}', '"number"'],
    ["dial", '{"number": "0312345678@evil.example"}', '"number"'],
    ["dial", '{"number": "sip:0312345678"}', '"number"'],
    ["dial", '{"number": "012345678901234567890123456789012"}', '"number"'],
    ["dial", '{"number": ["0312345678"]}', '"number"'],
    ["dial", '{"number": "0312345678", "extension": 801}', '"extension"'],
    ["dial", '{"number": "0312345678", "extension": "8;01"}', '"extension"'],
    ["dial", "[]", "JSON object"],
    ["reboot", "{}", 'unknown command "reboot"'],
    ["__proto__", "{}", "unknown command"],
    ["constructor", "{}", "unknown command"],
  ])("%s %s → error response, nothing done", (cmd, payload, msg) => {
    const r = rig();
    const out = r.run(cmd, payload);
    expect(out.response.status).toBe("error");
    expect(out.response.error).toContain(msg);
    expect(out.error).toBe(out.response.error);
    expect(r.calls).toEqual([]);
  });

  it("an oversized request is refused unparsed", () => {
    const r = rig();
    const out = r.run("dnd", Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x20));
    expect(out.response.status).toBe("error");
    expect(r.calls).toEqual([]);
  });

  it("a transaction that is not a string or number is not echoed", () => {
    const r = rig();
    expect(r.run("dnd", '{"value":true,"transaction":{"x":1}}').response).toEqual({ status: "ok", data: { value: true } });
  });
});
