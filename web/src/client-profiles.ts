// client.profiles: which profiles to ask for, and when. The UI says which
// names it shows (want: the authors of the messages in view, the user); names not cached (or cached longer than
// PROFILE_TTL_MS ago) and not already asked for are collected and sent as
// one getUsers per tick, at most MAX_NAMES a request (the server's limit).
// The answers go into ChatState.profiles through the reducer
// (state-profiles.ts).
//
// No React, no timers of its own beyond one scheduled flush; tested with a
// fake WebSocket through ChatClient and directly.

import type { Action, ChatState } from "./model";
import type { ClientEventInit, Profile } from "./protocol";
import { profileFresh, profileKey } from "./state-profiles";

/** GetUsersRequest takes up to 100 names. */
export const MAX_NAMES = 100;

export interface ProfileDeps {
  /** Sends with a fresh ref and records the request; false when offline. */
  send: (body: ClientEventInit, req: { kind: "getUsers"; names: string[] }) => boolean;
  getState: () => ChatState;
  dispatch: (a: Action) => void;
  now: () => number;
  /** Runs fn soon, once (batches the wants of one render); default: a macrotask. */
  schedule?: (fn: () => void) => void;
}

export class ProfileDirectory {
  private readonly d: ProfileDeps;
  /** Wanted names not yet sent, by key (first spelling seen). */
  private readonly queue = new Map<string, string>();
  private flushScheduled = false;

  constructor(deps: ProfileDeps) {
    this.d = deps;
  }

  /** Names asked for on this connection and not yet answered. */
  private inFlight(): Set<string> {
    const out = new Set<string>();
    for (const r of Object.values(this.d.getState().requests)) {
      if (r.kind === "getUsers") for (const n of r.names) out.add(profileKey(n));
    }
    return out;
  }

  /** The UI shows these names: fetch the profiles it does not have (fresh). */
  want(names: Iterable<string>): void {
    const state = this.d.getState();
    const now = this.d.now();
    let flying: Set<string> | null = null;
    for (const name of names) {
      if (name === "") continue;
      const key = profileKey(name);
      if (this.queue.has(key) || profileFresh(state, name, now)) continue;
      flying ??= this.inFlight();
      if (flying.has(key)) continue;
      this.queue.set(key, name);
    }
    if (this.queue.size > 0) this.scheduleFlush();
  }

  /** A (re)connect: what was queued while offline goes out now. */
  onOpen(): void {
    if (this.queue.size > 0) this.flush();
  }

  /** Profiles learnt elsewhere (UpdateProfile's answer, a new bot): cached as if fetched now. */
  known(profiles: Profile[]): void {
    this.d.dispatch({ type: "profilesKnown", profiles, now: this.d.now() });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flush();
    };
    if (this.d.schedule) this.d.schedule(run);
    else setTimeout(run, 0);
  }

  /** Sends the queue, MAX_NAMES a request; offline, it stays queued for onOpen. */
  flush(): void {
    const names = Array.from(this.queue.values());
    for (let i = 0; i < names.length; i += MAX_NAMES) {
      const batch = names.slice(i, i + MAX_NAMES);
      if (!this.d.send({ event: { case: "getUsers", value: { usernames: batch } } }, { kind: "getUsers", names: batch })) return;
      for (const n of batch) this.queue.delete(profileKey(n));
    }
  }
}
