import { describe, expect, it } from "vitest";
import type { SipResponse } from "../message/types.js";
import { addHeader, createRequest, createResponse, formatUri, setHeader } from "../message/index.js";
import { Dialog } from "./dialog.js";

const invite = () =>
  createRequest({
    method: "INVITE",
    uri: "sip:802@198.18.0.12:5060",
    from: "<sip:801@198.18.0.1>;tag=ours",
    to: "<sip:802@198.18.0.12>",
    callId: "c1@198.18.0.1",
    cseq: 1,
    contact: "<sip:801@198.18.0.1:5060>",
  });

/** A UAC dialog before any response, as a B2BUA leg keeps one (no remote tag yet). */
function uacDialog(): Dialog {
  const req = invite();
  return new Dialog({
    callId: "c1@198.18.0.1",
    localTag: "ours",
    remoteTag: "",
    localUri: { uri: req.uri, params: new Map() },
    remoteUri: { uri: { scheme: "sip", user: "802", host: "198.18.0.12", params: new Map(), headers: new Map() }, params: new Map() },
    localSeq: 1,
    remoteSeq: undefined,
    remoteTarget: req.uri,
    routeSet: [],
    state: "early",
  });
}

function response(status: number, toTag: string | undefined, opts: { contact?: string; recordRoute?: string[] } = {}): SipResponse {
  const res = createResponse(invite(), status, undefined, toTag ? { toTag } : {});
  if (!toTag) setHeader(res, "to", "<sip:802@198.18.0.12>");
  if (opts.contact) setHeader(res, "contact", opts.contact);
  for (const rr of opts.recordRoute ?? []) addHeader(res, "record-route", rr);
  return res;
}

describe("Dialog.learnFromResponse (RFC 3261 §12.1.2)", () => {
  it("takes the remote tag from To, the route set from Record-Route reversed and the target from Contact; 1xx makes it early", () => {
    const d = uacDialog();
    expect(d.learnFromResponse(response(180, "theirs", { contact: "<sip:802@198.18.0.12:5062>", recordRoute: ["<sip:p1;lr>", "<sip:p2;lr>"] }))).toBe(true);
    expect(d.remoteTag).toBe("theirs");
    expect(d.routeSet).toEqual(["<sip:p2;lr>", "<sip:p1;lr>"]);
    expect(formatUri(d.remoteTarget)).toBe("sip:802@198.18.0.12:5062");
    expect(d.state).toBe("early");
    const bye = d.createRequest("BYE", { contact: "<sip:801@198.18.0.1:5060>" });
    expect(bye.headers.filter((h) => h.name === "route").map((h) => h.value)).toEqual(["<sip:p2;lr>", "<sip:p1;lr>"]);
    expect(bye.headers.find((h) => h.name === "to")?.value).toContain(";tag=theirs");
  });

  it("a 2xx confirms it, and a confirmed dialog never goes back to early", () => {
    const d = uacDialog();
    d.learnFromResponse(response(183, "theirs", { contact: "<sip:802@198.18.0.12>" }));
    d.learnFromResponse(response(200, "theirs", { contact: "<sip:802@198.18.0.12:5070>" }));
    expect(d.state).toBe("confirmed");
    expect(formatUri(d.remoteTarget)).toBe("sip:802@198.18.0.12:5070");
    d.learnFromResponse(response(180, "theirs", { contact: "<sip:802@198.18.0.12>" }));
    expect(d.state).toBe("confirmed");
  });

  it("without a Contact the remote target is the To URI", () => {
    const d = uacDialog();
    d.learnFromResponse(response(180, "theirs"));
    expect(formatUri(d.remoteTarget)).toBe("sip:802@198.18.0.12");
  });

  it("learns nothing from a response without a To tag, even with a tag parameter inside the To URI", () => {
    const d = uacDialog();
    const res = response(180, undefined, { contact: "<sip:802@198.18.0.12:5062>", recordRoute: ["<sip:p1;lr>"] });
    setHeader(res, "to", "<sip:802@198.18.0.12;tag=in-the-uri>");
    expect(d.learnFromResponse(res)).toBe(false);
    expect(d.remoteTag).toBe("");
    expect(d.routeSet).toEqual([]);
    expect(formatUri(d.remoteTarget)).toBe("sip:802@198.18.0.12:5060");
    expect(d.state).toBe("early");
  });

  it("asUac is the same learning from our request and its response", () => {
    const d = Dialog.asUac(invite(), response(200, "theirs", { contact: "<sip:802@198.18.0.12:5062>", recordRoute: ["<sip:p1;lr>", "<sip:p2;lr>"] }));
    expect([d.localTag, d.remoteTag, d.state, d.routeSet, formatUri(d.remoteTarget), d.localSeq]).toEqual(["ours", "theirs", "confirmed", ["<sip:p2;lr>", "<sip:p1;lr>"], "sip:802@198.18.0.12:5062", 1]);
  });
});

describe("Dialog.confirm (RFC 3261 §12.1.1)", () => {
  it("the UAS's dialog is confirmed by the 2xx it sends", () => {
    const d = Dialog.asUas(invite(), "mine");
    expect(d.state).toBe("early");
    d.confirm();
    expect(d.state).toBe("confirmed");
  });
});
