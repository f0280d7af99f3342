import { describe, expect, it } from "vitest";
import { checkDiscovery } from "../../../test/support/mqtt/ha-discovery-check.js";
import { Topics } from "../topics.js";
import { discoveryConfigs, nodeId, type DiscoveryContext } from "./index.js";
import { DIAL_NUMBER } from "../commands.js";

const ctx = (over: Partial<DiscoveryContext> = {}): DiscoveryContext => ({
  topics: new Topics("hikari-gw", "homeassistant"),
  node: nodeId("hikari-gw"),
  version: "0.1.0",
  channels: 2,
  extensions: [{ number: "801", name: "Smartphone" }, { number: "802" }],
  ...over,
});

const all = (c: DiscoveryContext) => discoveryConfigs(c).map((d) => ({ topic: c.topics.discovery(d.component, c.node, d.object), ...d }));

describe("Home Assistant discovery", () => {
  it("every config passes the check written from Home Assistant's discovery schemas", () => {
    for (const d of all(ctx())) expect(checkDiscovery(d.topic, d.config), d.topic).toEqual([]);
  });

  it("lists the entities the issue asks for, one line-state sensor per channel, with stable unique ids", () => {
    const ids = all(ctx()).map((d) => `${d.component}/${d.object}`);
    expect(ids).toEqual([
      "sensor/line_1_state",
      "sensor/line_2_state",
      "sensor/last_caller",
      "sensor/missed_calls",
      "sensor/last_missed_caller",
      "sensor/registered_extensions",
      "binary_sensor/trunk_registered",
      "sensor/last_call_loss",
      "sensor/last_call_jitter",
      "binary_sensor/extension_801_registered",
      "binary_sensor/extension_802_registered",
      "switch/dnd",
      "button/hangup",
      "button/missed_reset",
      "text/dial",
      "event/call",
      "device_automation/call_incoming",
      "device_automation/call_missed",
    ]);
    const uids = all(ctx()).filter((d) => d.component !== "device_automation").map((d) => d.config.unique_id);
    expect(new Set(uids).size).toBe(uids.length);
    expect(uids).toContain("hikari-gw_line_1_state");
  });

  it("availability on <base>/bridge/state and one device for all", () => {
    for (const d of all(ctx())) {
      expect((d.config.device as { identifiers: string[] }).identifiers).toEqual(["hikari-gw"]);
      if (d.component !== "device_automation") expect(d.config.availability_topic).toBe("hikari-gw/bridge/state");
    }
  });

  it("the check catches what Home Assistant refuses (it is not a check that cannot fail)", () => {
    const bad = (component: string, config: Record<string, unknown>) => checkDiscovery(`homeassistant/${component}/n/o/config`, { unique_id: "u", device: { identifiers: ["x"] }, ...config });
    expect(bad("sensor", { state_topic: "t", device_class: "enum", options: ["a"], unit_of_measurement: "%" })).not.toEqual([]);
    expect(bad("sensor", { state_topic: "t", options: ["a"] })).not.toEqual([]);
    expect(bad("sensor", { state_topic: "t", device_class: "duration", unit_of_measurement: "%" })).not.toEqual([]);
    expect(bad("event", { state_topic: "t" })).not.toEqual([]);
    expect(bad("button", {})).not.toEqual([]);
    expect(bad("switch", { command_topic: "a/#" })).not.toEqual([]);
    expect(bad("text", {})).not.toEqual([]);
    expect(bad("text", { command_topic: "t", min: 5, max: 5 })).not.toEqual([]);
    expect(bad("text", { command_topic: "t", max: 300 })).not.toEqual([]);
    expect(bad("text", { command_topic: "t", mode: "number" })).not.toEqual([]);
    expect(bad("text", { command_topic: "t", pattern: "([0-9]" })).not.toEqual([]);
    expect(bad("text", { command_topic: "t", payload_press: "x" })).not.toEqual([]);
    expect(bad("text", { command_topic: "t", min: 1, max: 32, mode: "text", pattern: "^[0-9]+$" })).toEqual([]);
    expect(bad("sensor", { state_topic: "t", stat_t: "typo" })).not.toEqual([]);
    expect(checkDiscovery("homeassistant/sensor/n/o/config", { state_topic: "t", unique_id: "u", device: {} })).not.toEqual([]);
    expect(checkDiscovery("homeassistant/device_automation/n/o/config", { automation_type: "trigger", topic: "t", type: "x", device: { identifiers: ["x"] } })).not.toEqual([]);
  });

  it("the click-to-dial text sends bridge/request/dial with the number as JSON, and takes what the dial request takes", () => {
    const text = all(ctx()).find((d) => d.component === "text")!;
    expect(text.topic).toBe("homeassistant/text/hikari-gw/dial/config");
    expect(text.config).toMatchObject({ unique_id: "hikari-gw_dial", command_topic: "hikari-gw/bridge/request/dial", mode: "text", min: 1, max: 32 });
    // Home Assistant renders the template with Jinja's tojson: the number arrives as a JSON string.
    const rendered = String(text.config.command_template).replace("{{ value | tojson }}", JSON.stringify("03-1234-5678"));
    expect(JSON.parse(rendered)).toEqual({ number: "03-1234-5678", transaction: "home-assistant" });
    const pattern = new RegExp(String(text.config.pattern));
    for (const n of ["0312345678", "03-1234-5678", "+81 3 1234 5678", "*21#"]) {
      expect(pattern.test(n), n).toBe(true);
      expect(DIAL_NUMBER.test(n), n).toBe(true);
    }
    for (const n of ["sip:0312345678", "0312345678@x", ""]) expect(pattern.test(n), n).toBe(false);
  });

  it("with the answering machine on: a new-messages sensor, a new-message trigger and a mark-heard button, all passing the check", () => {
    const vm = all(ctx({ voicemail: true })).filter((d) => d.object.startsWith("voicemail"));
    expect(vm.map((d) => `${d.component}/${d.object}`)).toEqual(["sensor/voicemail_new", "device_automation/voicemail_new_message", "button/voicemail_heard"]);
    for (const d of vm) expect(checkDiscovery(d.topic, d.config), d.topic).toEqual([]);
    expect(vm[0]!.config).toMatchObject({ state_topic: "hikari-gw/voicemail", value_template: "{{ value_json.new }}", json_attributes_topic: "hikari-gw/voicemail" });
    expect(vm[2]!.config.command_topic).toBe("hikari-gw/bridge/request/voicemail_heard");
    // Off: none of them.
    expect(all(ctx()).some((d) => d.object.startsWith("voicemail"))).toBe(false);
  });

  it("an extension taken out of the config loses its entity", () => {
    const objects = all(ctx({ extensions: [{ number: "801" }] })).map((d) => d.object);
    expect(objects).toContain("extension_801_registered");
    expect(objects).not.toContain("extension_802_registered");
  });
});
