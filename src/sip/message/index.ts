/**
 * The SIP message layer's public face (RFC 3261 §7, §8, §19, §20, §25). Transactions,
 * dialogs and everything above import from here.
 */
export * from "./types.js";
export { parseMessage, MAX_MESSAGE_SIZE } from "./parse.js";
export { serializeMessage } from "./serialize.js";
export { parseUri, formatUri } from "./uri.js";
export { sameEndpoint } from "./endpoint.js";
export {
  getHeader,
  getHeaders,
  setHeader,
  addHeader,
  prependHeader,
  removeHeader,
  removeFirstValue,
  splitList,
  parseVia,
  formatVia,
  validPort,
  parseNameAddr,
  formatNameAddr,
  tagOf,
  parseCSeq,
  parseParams,
  formatParams,
  parseDeltaSeconds,
  topVia,
  allVias,
  callId,
  cseq,
  fromAddr,
  toAddr,
  contacts,
  maxForwards,
  expiresHeader,
  parseAuthParams,
  formatAuthParams,
  headerKey,
  wireName,
  type AuthParams,
} from "./headers.js";
export {
  createResponse,
  createRequest,
  responseForParseError,
  reasonPhrase,
  newBranch,
  newTag,
  newCallId,
  type ResponseOptions,
  type RequestInit,
} from "./build.js";
export { validateRequest, validateResponse, type ValidationResult, type ValidateOptions } from "./validate.js";
