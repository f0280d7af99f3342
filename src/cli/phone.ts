/**
 * `hikari-gw phone add|list|remove`: asks the running gateway over the control socket (it
 * owns the WireGuard interface and the registrar) and prints what the phone needs: the
 * WireGuard config and its QR code, the Linphone provisioning URL and its QR code, and the
 * settings as text for any other app.
 */
import { queryControl } from "../control.js";
import { qrTerminal } from "../provision/qr.js";
import type { PhoneAdded } from "../provision/phones.js";

type Out = (s: string) => void;

export async function phoneCommand(stateDir: string, args: string[], extension: string | undefined, out: Out, err: Out): Promise<number> {
  const [sub, name, ...rest] = args;
  const ask = (req: Parameters<typeof queryControl>[1]) => queryControl(stateDir, req, 15000) as Promise<{ error?: string } & Record<string, unknown>>;
  if (sub === "list" && name === undefined) {
    const a = await ask({ command: "phone-list" });
    if (a.error) return fail(err, a.error);
    const phones = a.phones as { name: string; extension: string; address?: string }[];
    if (phones.length === 0) out("no phones added (hikari-gw phone add NAME)\n");
    for (const p of phones) out(`${p.name}\t${p.extension}\t${p.address ?? "-"}\n`);
    return 0;
  }
  if ((sub === "add" || sub === "remove") && name !== undefined && rest.length === 0) {
    if (sub === "remove") {
      const a = await ask({ command: "phone-remove", name });
      if (a.error) return fail(err, a.error);
      out(`removed: ${name} (extension ${String(a.extension)}); its tunnel and registrations are gone\n`);
      return 0;
    }
    const a = await ask({ command: "phone-add", name, extension });
    if (a.error) return fail(err, a.error);
    if (!isPhoneAdded(a)) return fail(err, "the gateway's answer to phone add is incomplete (is it the same version as this command?)");
    out(await formatAdded(a));
    return 0;
  }
  err("phone: expected `phone add NAME [--extension N]`, `phone list` or `phone remove NAME`\n");
  return 2;
}

function fail(err: Out, msg: string): number {
  err(`phone: ${msg}\n`);
  return 1;
}

/** The control socket's answer checked field by field: it crossed a process boundary. */
function isPhoneAdded(a: unknown): a is PhoneAdded {
  const r = a as Partial<Record<keyof PhoneAdded, unknown>>;
  return (
    typeof r.name === "string" &&
    typeof r.extension === "string" &&
    typeof r.settings_text === "string" &&
    (r.provisioning_url === undefined || typeof r.provisioning_url === "string") &&
    typeof r.sip === "object" &&
    r.sip !== null &&
    (r.wireguard_config === undefined || typeof r.wireguard_config === "string")
  );
}

export async function formatAdded(a: PhoneAdded): Promise<string> {
  const parts = [`Phone "${a.name}": extension ${a.extension}\n`];
  if (a.wireguard_config) {
    parts.push("\n1. WireGuard app: scan this (or type the config below)\n\n", await qrTerminal(a.wireguard_config), "\n", a.wireguard_config, "\n");
  }
  const step = a.wireguard_config ? "2" : "1";
  if (a.provisioning_url !== undefined) {
    parts.push(`\n${step}. Linphone: Assistant > Fetch remote configuration, scan this (one use, 24 h)\n\n`, await qrTerminal(a.provisioning_url), "\n");
    parts.push(a.provisioning_url, "\n");
  } else {
    parts.push(`\n${step}. Linphone: no provisioning URL (the gateway could not open its HTTP listener: see its log); enter the settings below by hand\n`);
  }
  parts.push("\nAny other SIP app:\n", a.settings_text);
  return parts.join("");
}
