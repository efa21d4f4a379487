import { describe, expect, it } from "vitest";
import { TokenAction } from "./gen/chat/v1/chat_pb";
import {
  actionsText,
  curlExample,
  describeClient,
  expiryDate,
  parseRooms,
  sessionsEndedText,
  validateDeleteAccount,
  validateDisplayName,
  validatePasswordChange,
  validateTokenForm,
  validateWebhookForm,
  webhookUrl,
} from "./settings-forms";

describe("settings checks", () => {
  it("display names: up to 64 bytes, no control characters, empty clears", () => {
    expect(validateDisplayName("")).toBe("");
    expect(validateDisplayName("Alice Liddell")).toBe("");
    expect(validateDisplayName("é".repeat(32))).toBe(""); // 64 bytes
    expect(validateDisplayName("é".repeat(33))).toMatch(/64 bytes/);
    expect(validateDisplayName("a\nb")).toMatch(/control/);
    expect(validateDisplayName("a\u0085b")).toMatch(/control/);
  });

  it("password change: current, 8+ characters, typed twice, different", () => {
    expect(validatePasswordChange("", "new-secret", "new-secret")).toMatch(/current password/);
    expect(validatePasswordChange("old-secret", "short", "short")).toMatch(/new password must be at least 8/);
    expect(validatePasswordChange("old-secret", "new-secret", "new-secreT")).toMatch(/do not match/);
    expect(validatePasswordChange("old-secret", "old-secret", "old-secret")).toMatch(/same/);
    expect(validatePasswordChange("old-secret", "new-secret", "new-secret")).toBe("");
  });

  it("says how many other sessions ended", () => {
    expect(sessionsEndedText(0)).toBe("No other session was signed in.");
    expect(sessionsEndedText(1)).toBe("1 other session was signed out.");
    expect(sessionsEndedText(3)).toBe("3 other sessions were signed out.");
  });

  it("delete account: the password and the username typed", () => {
    expect(validateDeleteAccount("", "alice", "alice")).toMatch(/password/);
    expect(validateDeleteAccount("pw", "alic", "alice")).toMatch(/Type your username \(alice\)/);
    expect(validateDeleteAccount("pw", " Alice ", "alice")).toBe("");
  });

  it("token form: a name, valid rooms, at least one action", () => {
    const ok = { name: "ci", roomsText: "", actions: [TokenAction.POST] };
    expect(validateTokenForm(ok)).toBe("");
    expect(validateTokenForm({ ...ok, name: "  " })).toMatch(/name/);
    expect(validateTokenForm({ ...ok, name: "x".repeat(65) })).toMatch(/64 bytes/);
    expect(validateTokenForm({ ...ok, roomsText: "ops, Bad Room" })).toMatch(/"Bad"/);
    expect(validateTokenForm({ ...ok, actions: [] })).toMatch(/at least one action/);
  });

  it("parses a room list: commas or spaces, # allowed, no repeats", () => {
    expect(parseRooms("")).toEqual({ rooms: [], error: "" });
    expect(parseRooms(" #ops, deploy  ops\nalerts ")).toEqual({ rooms: ["ops", "deploy", "alerts"], error: "" });
  });

  it("names a token's actions; none means all", () => {
    expect(actionsText([])).toBe("read, post, manage");
    expect(actionsText([TokenAction.MANAGE, TokenAction.READ])).toBe("read, manage");
  });

  it("token expiry: never, or days from now", () => {
    expect(expiryDate(0, 1000)).toBeNull();
    expect(expiryDate(7, 0)?.toISOString()).toBe("1970-01-08T00:00:00.000Z");
  });

  it("webhook URL and curl example", () => {
    const url = webhookUrl("https://chat.example", "0a1b2c3d4e5f6a7b", "s3cr-et_");
    expect(url).toBe("https://chat.example/api/hooks/0a1b2c3d4e5f6a7b/s3cr-et_");
    expect(curlExample(url)).toBe(
      `curl -X POST -H 'Content-Type: application/json' -d '{"text":"Hello from a webhook"}' '${url}'`,
    );
    expect(curlExample(url, "it's")).toContain(`'{"text":"it'\\''s"}'`);
  });

  it("webhook form: a room and a bot", () => {
    expect(validateWebhookForm("", "ci.bot", "")).toMatch(/room/);
    expect(validateWebhookForm("Ops!", "ci.bot", "")).toMatch(/Room names/);
    expect(validateWebhookForm("#ops", "", "")).toMatch(/bot/);
    expect(validateWebhookForm("#ops", "ci.bot", "alerts")).toBe("");
  });

  it("names a session's client", () => {
    const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    expect(describeClient(chrome)).toBe("Chrome on Linux");
    expect(describeClient("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1")).toBe(
      "Safari on iOS",
    );
    expect(describeClient("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0")).toBe("Firefox on Windows");
    expect(describeClient("chat-cli/1.0")).toBe("chat-cli/1.0");
    expect(describeClient("")).toBe("Unknown client");
  });
});
