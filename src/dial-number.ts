/**
 * What a click-to-dial request may name as the number (MQTT `dial`, `hikari-gw dial`): digits
 * with an optional leading +, * and #, and the visual separators a user types or pastes
 * (RFC 3966 §5.1.1; the dialplan drops them). Nothing of SIP syntax (no `@`, `;`, `:`)
 * gets through to a Request-URI.
 */
export const DIAL_NUMBER = /^(?=.*[0-9*#])[+]?[0-9*#\s\-.()]{1,32}$/;
