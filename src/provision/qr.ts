/**
 * QR codes for the terminal (the `qrcode` library's UTF-8 half-block renderer) and as PNG
 * (for checking that they decode to exactly the text printed).
 */
import QRCode from "qrcode";

export function qrTerminal(text: string): Promise<string> {
  return QRCode.toString(text, { type: "utf8", errorCorrectionLevel: "L", margin: 2 });
}

export function qrPng(text: string, file: string): Promise<void> {
  return QRCode.toFile(file, text, { type: "png", errorCorrectionLevel: "L", margin: 4, scale: 4 });
}
