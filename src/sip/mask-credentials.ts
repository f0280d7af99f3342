/**
 * What `log.sip_messages` may write of a message: Authorization and Proxy-Authorization keep
 * who and where (username, realm, uri) but lose response, nonce and cnonce, which together
 * are enough to crack the password offline (RFC 7616 §5.1 on dictionary attacks).
 */

/** Header lines holding credentials (RFC 3261 §20.7, §20.28; no compact forms exist). */
const CREDENTIAL_LINE = /^(authorization|proxy-authorization)[ \t]*:.*$/gim;
/** The secret parameters, quoted or not; `nonce` alone, not the end of `cnonce`. */
const SECRET_PARAM = /(^|[\s,:])(response|cnonce|nonce)([ \t]*=[ \t]*)("(?:[^"\\]|\\.)*"|[^\s,]*)/gi;

/** `text` (a whole SIP message) with the credentials' secret values replaced by "***". */
export function maskCredentials(text: string): string {
  return text.replace(CREDENTIAL_LINE, (line) => line.replace(SECRET_PARAM, (_m, pre: string, name: string, eq: string) => `${pre}${name}${eq}"***"`));
}
