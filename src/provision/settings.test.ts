import { describe, expect, it } from "vitest";
import { linphoneXml, type SipAccount } from "./settings.js";

const account: SipAccount = { server: "10.8.0.1", port: 5060, user: "803", password: "p<&>\"'w", realm: "hikari-gw", displayName: "Pixel" };

/** The document as liblinphone reads it: section → entry → value (XML character references decoded). */
function sections(xml: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [, name, body] of xml.matchAll(/<section name="([^"]+)">([\s\S]*?)<\/section>/g)) {
    const entries = out.get(name!) ?? new Map<string, string>();
    for (const [, key, value] of body!.matchAll(/<entry name="([^"]+)"[^>]*>([^<]*)<\/entry>/g)) entries.set(key!, value!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
    out.set(name!, entries);
  }
  return out;
}

describe("linphoneXml (Linphone remote provisioning)", () => {
  const doc = sections(linphoneXml(account));

  it("asks for RFC 2833/4733 DTMF and no SIP INFO where liblinphone reads it: [sip] use_rfc2833 / use_info", () => {
    // liblinphone reads both from the "sip" section (linphone_core_get_use_rfc2833_for_dtmf);
    // in any other section they are ignored and the phone keeps whatever it had.
    expect(doc.get("sip")?.get("use_rfc2833")).toBe("1");
    expect(doc.get("sip")?.get("use_info")).toBe("0");
    for (const [name, entries] of doc) if (name !== "sip") expect([...entries.keys()], `[${name}]`).not.toContain("use_rfc2833");
  });

  it("gives the account: identity, proxy over UDP, digest credentials with the gateway's realm", () => {
    expect(doc.get("proxy_0")?.get("reg_identity")).toBe('"Pixel" <sip:803@10.8.0.1>');
    expect(doc.get("proxy_0")?.get("reg_proxy")).toBe("<sip:10.8.0.1:5060;transport=udp>");
    expect(doc.get("auth_info_0")?.get("username")).toBe("803");
    expect(doc.get("auth_info_0")?.get("passwd")).toBe(account.password);
    expect(doc.get("auth_info_0")?.get("realm")).toBe("hikari-gw");
    expect(doc.get("sip")?.get("media_encryption")).toBe("none");
  });

  it("is applied once: [misc] transient_provisioning=1 makes liblinphone drop the (one-time) URL once it has the document", () => {
    // Without it the phone keeps config-uri and fetches the spent URL again at every start
    // (the gateway answers 404 and logs a refused request each time).
    expect(doc.get("misc")?.get("transient_provisioning")).toBe("1");
  });

  it("puts PCMU first, then PCMA", () => {
    expect([doc.get("audio_codec_0")?.get("mime"), doc.get("audio_codec_1")?.get("mime")]).toEqual(["PCMU", "PCMA"]);
  });
});
