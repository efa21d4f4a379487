// The account calls of the settings screen: POST /api/account/{Method} on the
// bridge, whose body is the AuthService request in proto3 JSON and whose
// answer is the response in proto3 JSON (docs/protocol.md; the bridge turns
// them into the gRPC call with the session cookie's token). Errors come as
// {"code","message"} like the other /api/ calls (ApiError).
//
// The generated schemas write and read the JSON (camelCase names, enums by
// name, timestamps RFC 3339, durations "86400s"), so this file only adds the
// UI's shapes: timestamps as strings ("" when unset), as protocol.ts does.

import {
  create,
  fromJson,
  toJson,
  type DescMessage,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import * as pb from "./gen/chat/v1/chat_pb";
import { ApiError, type Api } from "./api";
import { normalizeProfile, timeString, type Profile } from "./protocol";

const METHODS = {
  WhoAmI: [pb.WhoAmIRequestSchema, pb.WhoAmIResponseSchema],
  ChangePassword: [pb.ChangePasswordRequestSchema, pb.ChangePasswordResponseSchema],
  ListSessions: [pb.ListSessionsRequestSchema, pb.ListSessionsResponseSchema],
  RevokeSession: [pb.RevokeSessionRequestSchema, pb.RevokeSessionResponseSchema],
  UpdateProfile: [pb.UpdateProfileRequestSchema, pb.UserProfileSchema],
  DeleteAccount: [pb.DeleteAccountRequestSchema, pb.DeleteAccountResponseSchema],
  CreateInvite: [pb.CreateInviteRequestSchema, pb.InviteCodeSchema],
  CreateBot: [pb.CreateBotRequestSchema, pb.UserProfileSchema],
  ListBots: [pb.ListBotsRequestSchema, pb.ListBotsResponseSchema],
  DeleteBot: [pb.DeleteBotRequestSchema, pb.DeleteBotResponseSchema],
  CreateApiToken: [pb.CreateApiTokenRequestSchema, pb.CreateApiTokenResponseSchema],
  ListApiTokens: [pb.ListApiTokensRequestSchema, pb.ListApiTokensResponseSchema],
  RevokeApiToken: [pb.RevokeApiTokenRequestSchema, pb.RevokeApiTokenResponseSchema],
  CreateWebhook: [pb.CreateWebhookRequestSchema, pb.CreateWebhookResponseSchema],
  ListWebhooks: [pb.ListWebhooksRequestSchema, pb.ListWebhooksResponseSchema],
  RevokeWebhook: [pb.RevokeWebhookRequestSchema, pb.RevokeWebhookResponseSchema],
} as const;

export type AccountMethod = keyof typeof METHODS;
type Req<K extends AccountMethod> = MessageInitShape<(typeof METHODS)[K][0]>;
type Res<K extends AccountMethod> = MessageShape<(typeof METHODS)[K][1]>;

/** What WhoAmI says about the caller, for the settings screen. */
export interface AccountInfo {
  username: string;
  displayName: string;
  admin: boolean;
  bot: boolean;
  /** May create registration invites (CreateInvite). */
  mayInvite: boolean;
  registration: pb.RegistrationMode;
  expiresAt: string;
}

export type LoginSessionView = Omit<pb.LoginSession, "$typeName" | "$unknown" | "createdAt" | "lastUsedAt" | "expiresAt" | "maxExpiresAt"> & {
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  maxExpiresAt: string;
};

export type ApiTokenView = Omit<pb.ApiToken, "$typeName" | "$unknown" | "createdAt" | "expiresAt" | "lastUsedAt"> & {
  createdAt: string;
  /** "" = never expires. */
  expiresAt: string;
  /** "" = never used. */
  lastUsedAt: string;
};

export type WebhookView = Omit<pb.Webhook, "$typeName" | "$unknown" | "createdAt"> & { createdAt: string };

export interface NewToken {
  /** "" = the caller; else one of the caller's bots. */
  account: string;
  name: string;
  rooms: string[];
  actions: pb.TokenAction[];
  /** null = never expires. */
  expiresAt: Date | null;
}

function sessionView(s: pb.LoginSession): LoginSessionView {
  return {
    id: s.id,
    peer: s.peer,
    client: s.client,
    current: s.current,
    createdAt: timeString(s.createdAt),
    lastUsedAt: timeString(s.lastUsedAt),
    expiresAt: timeString(s.expiresAt),
    maxExpiresAt: timeString(s.maxExpiresAt),
  };
}

export function tokenView(t: pb.ApiToken): ApiTokenView {
  return {
    id: t.id,
    account: t.account,
    name: t.name,
    rooms: t.rooms,
    actions: t.actions,
    createdBy: t.createdBy,
    createdAt: timeString(t.createdAt),
    expiresAt: timeString(t.expiresAt),
    lastUsedAt: timeString(t.lastUsedAt),
  };
}

function webhookView(w: pb.Webhook): WebhookView {
  return { id: w.id, room: w.room, bot: w.bot, name: w.name, createdBy: w.createdBy, createdAt: timeString(w.createdAt) };
}

export class AccountApi {
  private readonly api: Api;
  constructor(api: Api) {
    this.api = api;
  }

  /** One account call: the request as its init shape, the answer as the generated message. */
  async call<K extends AccountMethod>(method: K, req: Req<K>): Promise<Res<K>> {
    const [reqSchema, resSchema] = METHODS[method] as unknown as [DescMessage, DescMessage];
    const body = toJson(reqSchema, create(reqSchema, req as MessageInitShape<DescMessage>));
    const answer = await this.api.request(`/api/account/${method}`, "POST", body);
    try {
      return fromJson(resSchema, answer as JsonValue, { ignoreUnknownFields: true }) as Res<K>;
    } catch {
      throw new ApiError(200, "INTERNAL", "The server sent an unreadable answer");
    }
  }

  async whoAmI(): Promise<AccountInfo> {
    const r = await this.call("WhoAmI", {});
    return {
      username: r.username,
      displayName: r.displayName,
      admin: r.admin,
      bot: r.kind === pb.AccountKind.BOT,
      mayInvite: r.mayInvite,
      registration: r.registration,
      expiresAt: timeString(r.expiresAt),
    };
  }

  /** Returns how many other sessions ended. */
  async changePassword(oldPassword: string, newPassword: string): Promise<number> {
    return (await this.call("ChangePassword", { oldPassword, newPassword })).sessionsEnded;
  }

  async listSessions(): Promise<LoginSessionView[]> {
    return (await this.call("ListSessions", {})).sessions.map(sessionView);
  }

  /** Ends one session; returns how many ended. */
  async revokeSession(id: string): Promise<number> {
    return (await this.call("RevokeSession", { id })).sessionsEnded;
  }

  /** Ends every session but this one; returns how many ended. */
  async revokeOtherSessions(): Promise<number> {
    return (await this.call("RevokeSession", { allOthers: true })).sessionsEnded;
  }

  /** The caller's display name ("" clears it), or with `username` one of their bots'. */
  async updateProfile(displayName: string, username = ""): Promise<Profile> {
    return normalizeProfile(await this.call("UpdateProfile", { displayName, username }));
  }

  async deleteAccount(password: string): Promise<void> {
    await this.call("DeleteAccount", { password });
  }

  /** A single-use registration code, valid for this many seconds (1 h .. 30 days). */
  async createInvite(validForSeconds: number): Promise<{ code: string; expiresAt: string }> {
    const r = await this.call("CreateInvite", { validFor: { seconds: BigInt(Math.round(validForSeconds)) } });
    return { code: r.code, expiresAt: timeString(r.expiresAt) };
  }

  async createBot(name: string, displayName = ""): Promise<Profile> {
    return normalizeProfile(await this.call("CreateBot", { name, displayName }));
  }

  async listBots(): Promise<Profile[]> {
    return (await this.call("ListBots", {})).bots.map(normalizeProfile);
  }

  async deleteBot(name: string): Promise<void> {
    await this.call("DeleteBot", { name });
  }

  /** The new token and its secret, which is shown this once. */
  async createApiToken(t: NewToken): Promise<{ token: ApiTokenView; secret: string }> {
    const r = await this.call("CreateApiToken", {
      account: t.account,
      name: t.name,
      rooms: t.rooms,
      actions: t.actions,
      expiresAt: t.expiresAt ? timestampFromDate(t.expiresAt) : undefined,
    });
    if (!r.token || r.secret === "") throw new ApiError(200, "INTERNAL", "The server sent no token");
    return { token: tokenView(r.token), secret: r.secret };
  }

  /** The caller's tokens and their bots'. */
  async listApiTokens(): Promise<ApiTokenView[]> {
    return (await this.call("ListApiTokens", {})).tokens.map(tokenView);
  }

  async revokeApiToken(id: string): Promise<number> {
    return (await this.call("RevokeApiToken", { id })).streamsEnded;
  }

  /** The new webhook and its secret, which is shown this once. */
  async createWebhook(room: string, bot: string, name: string): Promise<{ webhook: WebhookView; secret: string }> {
    const r = await this.call("CreateWebhook", { room, bot, name });
    if (!r.webhook || r.secret === "") throw new ApiError(200, "INTERNAL", "The server sent no webhook");
    return { webhook: webhookView(r.webhook), secret: r.secret };
  }

  async listWebhooks(): Promise<WebhookView[]> {
    return (await this.call("ListWebhooks", {})).webhooks.map(webhookView);
  }

  async revokeWebhook(id: string): Promise<void> {
    await this.call("RevokeWebhook", { id });
  }
}
