import { describe, expect, it } from "vitest";
import { normalizeNumber, parsePhonebookCsv, Phonebook } from "./phonebook.js";

describe("phonebook", () => {
  it("compares numbers in national form", () => {
    expect(normalizeNumber("+81 3-1234-5678")).toBe("0312345678");
    expect(normalizeNumber("03-1234-5678")).toBe("0312345678");
    expect(normalizeNumber("+1 555 0100")).toBe("+15550100");
    const book = new Phonebook({ "03-1234-5678": "Grandma" });
    expect(book.name("+81312345678")).toBe("Grandma");
    expect(book.name("anonymous")).toBeUndefined();
    expect(book.name("0999")).toBeUndefined();
  });

  it("reads number,name CSV lines with comments, quotes and errors named by line", () => {
    const { entries, errors } = parsePhonebookCsv('# family\n0312345678,Grandma\n\n"0501112222","Tanaka, Taro"\n0601234567,"Say ""hi"""\nno-comma-here\n,NoNumber\n');
    expect([...entries]).toEqual([
      ["0312345678", "Grandma"],
      ["0501112222", "Tanaka, Taro"],
      ["0601234567", 'Say "hi"'],
    ]);
    expect(errors).toEqual(['line 6: expected "number,name"', 'line 7: expected "number,name"']);
  });

  it("the config's own entries win over the file's", () => {
    const book = new Phonebook({ "0312345678": "Mum" }, new Map([["0312345678", "Grandma"]]));
    expect(book.name("0312345678")).toBe("Mum");
  });
});
