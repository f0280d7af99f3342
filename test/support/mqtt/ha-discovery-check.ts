/**
 * A check of MQTT discovery configs written from Home Assistant core's own discovery
 * schemas (homeassistant/components/mqtt/: sensor.py `_PLATFORM_SCHEMA_BASE` and
 * `validate_sensor_state_and_device_class_config`, event.py, binary_sensor.py, switch.py,
 * button.py, text.py (`_PLATFORM_SCHEMA_BASE` over MQTT_RW_SCHEMA, and
 * `valid_text_size_configuration`), device_trigger.py `TRIGGER_DISCOVERY_SCHEMA`, schemas.py's common entity,
 * device and origin schemas), as of the 2024.x–2025.x dev branch. Stricter than Home
 * Assistant in one way: a key Home Assistant would silently drop (REMOVE_EXTRA) is an error
 * here, so a misspelt key cannot pass unnoticed.
 */

export type Component = "sensor" | "binary_sensor" | "switch" | "button" | "event" | "text" | "device_automation";

const ID = /^[a-zA-Z0-9_-]+$/;
const ICON = /^[\w-]+:[\w-]+$/;
const WILDCARD = /[#+]/;

/** Keys every entity platform accepts (MQTT_ENTITY_COMMON_SCHEMA + availability + json attributes + base). */
const COMMON = ["name", "unique_id", "device", "origin", "availability_topic", "payload_available", "payload_not_available", "availability_mode", "availability", "availability_template", "icon", "entity_category", "entity_picture", "json_attributes_topic", "json_attributes_template", "enabled_by_default", "object_id", "default_entity_id", "qos", "encoding"];
const RO = ["state_topic", "value_template"];

const PLATFORM_KEYS: Record<Component, string[]> = {
  sensor: [...COMMON, ...RO, "device_class", "expire_after", "force_update", "last_reset_value_template", "options", "suggested_display_precision", "state_class", "unit_of_measurement"],
  binary_sensor: [...COMMON, ...RO, "device_class", "expire_after", "force_update", "off_delay", "payload_on", "payload_off"],
  switch: [...COMMON, ...RO, "command_topic", "command_template", "retain", "optimistic", "payload_on", "payload_off", "state_on", "state_off", "device_class"],
  button: [...COMMON, "command_topic", "command_template", "retain", "payload_press", "device_class"],
  event: [...COMMON, ...RO, "device_class", "event_types"],
  text: [...COMMON, ...RO, "command_topic", "command_template", "retain", "optimistic", "min", "max", "mode", "pattern"],
  device_automation: ["automation_type", "device", "origin", "payload", "qos", "topic", "type", "subtype", "value_template", "encoding"],
};

/** SensorDeviceClass values used or likely here, with the units Home Assistant accepts for them. */
const SENSOR_DEVICE_CLASSES: Record<string, string[] | null> = {
  enum: [],
  timestamp: [],
  duration: ["d", "h", "min", "s", "ms", "µs"],
  data_rate: null,
  signal_strength: ["dB", "dBm"],
};
const STATE_CLASSES = ["measurement", "total", "total_increasing", "measurement_angle"];
const BINARY_DEVICE_CLASSES = ["connectivity", "problem", "running", "occupancy", "sound", "update", "power", "plug"];
const EVENT_DEVICE_CLASSES = ["button", "doorbell", "motion"];
const BUTTON_DEVICE_CLASSES = ["identify", "restart", "update"];
const SWITCH_DEVICE_CLASSES = ["outlet", "switch"];

function topicOk(v: unknown, wildcardsAllowed: boolean): boolean {
  return typeof v === "string" && v.length > 0 && !v.includes("\0") && (wildcardsAllowed || !WILDCARD.test(v));
}

function checkDevice(d: unknown, errs: string[]): void {
  if (!d || typeof d !== "object") return void errs.push("device: required object");
  const dev = d as Record<string, unknown>;
  const ids = dev.identifiers;
  const hasIds = typeof ids === "string" ? ids.length > 0 : Array.isArray(ids) && ids.length > 0 && ids.every((i) => typeof i === "string");
  if (!hasIds && !Array.isArray(dev.connections)) errs.push("device: must have at least one identifying value in 'identifiers' and/or 'connections'");
  for (const k of ["name", "manufacturer", "model", "sw_version", "hw_version", "serial_number"]) if (k in dev && typeof dev[k] !== "string") errs.push(`device.${k}: expected a string`);
}

function checkOrigin(o: unknown, errs: string[]): void {
  if (o === undefined) return;
  const or = o as Record<string, unknown>;
  if (!or || typeof or.name !== "string" || !or.name) errs.push("origin.name: required");
}

/** Problems with one discovery config (empty: Home Assistant accepts it). */
export function checkDiscovery(topic: string, config: Record<string, unknown>, prefix = "homeassistant"): string[] {
  const errs: string[] = [];
  const parts = topic.split("/");
  const component = parts[1] as Component;
  if (parts.length !== 5 || parts[0] !== prefix || parts[4] !== "config") errs.push(`topic ${topic}: expected ${prefix}/<component>/<node_id>/<object_id>/config`);
  if (!(component in PLATFORM_KEYS)) return [...errs, `unknown component ${component}`];
  if (!ID.test(parts[2] ?? "") || !ID.test(parts[3] ?? "")) errs.push(`topic ${topic}: node_id and object_id must be [a-zA-Z0-9_-]`);
  for (const k of Object.keys(config)) if (!PLATFORM_KEYS[component].includes(k)) errs.push(`${k}: not a ${component} option (Home Assistant would drop it)`);
  checkOrigin(config.origin, errs);

  if (component === "device_automation") {
    if (config.automation_type !== "trigger") errs.push("automation_type: must be 'trigger'");
    if (!topicOk(config.topic, false)) errs.push("topic: required, a valid topic");
    if (typeof config.type !== "string" || !config.type) errs.push("type: required string");
    if (typeof config.subtype !== "string" || !config.subtype) errs.push("subtype: required string");
    if ("payload" in config && typeof config.payload !== "string") errs.push("payload: expected a string");
    checkDevice(config.device, errs);
    return errs;
  }

  if (typeof config.unique_id !== "string" || !config.unique_id) errs.push("unique_id: required here (entity ids are an API)");
  if ("name" in config && config.name !== null && typeof config.name !== "string") errs.push("name: string or null");
  if ("icon" in config && !(typeof config.icon === "string" && ICON.test(config.icon))) errs.push(`icon: expected "prefix:name", got ${String(config.icon)}`);
  checkDevice(config.device, errs);
  if ("availability_topic" in config && !topicOk(config.availability_topic, true)) errs.push("availability_topic: invalid");
  if ("json_attributes_topic" in config && !topicOk(config.json_attributes_topic, true)) errs.push("json_attributes_topic: invalid");
  const category = config.entity_category;
  if (category !== undefined && category !== "config" && category !== "diagnostic") errs.push(`entity_category: "config" or "diagnostic", got ${String(category)}`);
  if ((component === "sensor" || component === "binary_sensor" || component === "event") && category === "config") errs.push(`entity_category: config is not allowed for a ${component}`);
  for (const k of ["state_topic", "command_topic"]) if (k in config && !topicOk(config[k], k === "state_topic")) errs.push(`${k}: invalid topic`);

  const dc = config.device_class;
  switch (component) {
    case "sensor": {
      if (!topicOk(config.state_topic, true)) errs.push("state_topic: required");
      if (dc !== undefined && dc !== null && !(String(dc) in SENSOR_DEVICE_CLASSES)) errs.push(`device_class: ${String(dc)} is not a sensor device class this check knows`);
      if (config.state_class !== undefined && !STATE_CLASSES.includes(String(config.state_class))) errs.push(`state_class: ${String(config.state_class)} invalid`);
      if ("last_reset_value_template" in config && config.state_class !== "total") errs.push("last_reset_value_template: only with state_class total");
      const options = config.options;
      if (options !== undefined) {
        if (!Array.isArray(options) || options.length === 0) errs.push("options: an empty options list is not allowed");
        if (config.state_class || config.unit_of_measurement) errs.push("options: not allowed together with state_class or unit_of_measurement");
        if (dc !== "enum") errs.push("options: must be used together with device class enum");
      }
      if (dc === "enum" && (config.state_class || config.unit_of_measurement)) errs.push("device_class enum: no state_class or unit_of_measurement");
      const units = typeof dc === "string" ? SENSOR_DEVICE_CLASSES[dc] : undefined;
      if (units && units.length > 0 && !units.includes(String(config.unit_of_measurement))) errs.push(`unit_of_measurement: ${String(config.unit_of_measurement)} is not valid for device class ${String(dc)}`);
      break;
    }
    case "binary_sensor":
      if (!topicOk(config.state_topic, true)) errs.push("state_topic: required");
      if (dc !== undefined && !BINARY_DEVICE_CLASSES.includes(String(dc))) errs.push(`device_class: ${String(dc)} invalid`);
      break;
    case "switch":
      if (!topicOk(config.command_topic, false)) errs.push("command_topic: required");
      if (dc !== undefined && !SWITCH_DEVICE_CLASSES.includes(String(dc))) errs.push(`device_class: ${String(dc)} invalid`);
      break;
    case "button":
      if (!topicOk(config.command_topic, false)) errs.push("command_topic: required");
      if (dc !== undefined && !BUTTON_DEVICE_CLASSES.includes(String(dc))) errs.push(`device_class: ${String(dc)} invalid`);
      break;
    case "text": {
      // text.py: min and max are cv.positive_int (0 allowed), min < max, max at most 255
      // (MAX_LENGTH_STATE_STATE); mode text or password; pattern must compile (cv.is_regex).
      if (!topicOk(config.command_topic, false)) errs.push("command_topic: required");
      const min = config.min ?? 0;
      const max = config.max ?? 255;
      if (!Number.isInteger(min) || (min as number) < 0) errs.push("min: a non-negative integer");
      if (!Number.isInteger(max) || (max as number) < 0) errs.push("max: a non-negative integer");
      if ((min as number) >= (max as number)) errs.push("min: must be less than max");
      if ((max as number) > 255) errs.push("max: at most 255");
      if ("mode" in config && config.mode !== "text" && config.mode !== "password") errs.push(`mode: text or password, got ${String(config.mode)}`);
      if ("pattern" in config) {
        try {
          if (typeof config.pattern !== "string") throw new Error("not a string");
          new RegExp(config.pattern);
        } catch {
          errs.push("pattern: not a valid regular expression");
        }
      }
      break;
    }
    case "event": {
      if (!topicOk(config.state_topic, true)) errs.push("state_topic: required");
      const types = config.event_types;
      if (!Array.isArray(types) || types.length === 0 || !types.every((t) => typeof t === "string")) errs.push("event_types: required list of strings");
      if (dc !== undefined && !EVENT_DEVICE_CLASSES.includes(String(dc))) errs.push(`device_class: ${String(dc)} invalid`);
      break;
    }
  }
  return errs;
}
