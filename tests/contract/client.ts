// A front end's use of the client types generated from openapi/openapi.json:
// if the document's shapes drift from what a client needs, this stops compiling.
import type { components, paths } from "./memberd";

type Schemas = components["schemas"];
type Json<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
    responses: { 200: { content: { "application/json": infer B } } };
}
    ? B
    : never;

// Logging in: the request the form sends, and the tokens it keeps.
export const login: Schemas["LoginRequest"] = { login: "alice", password: "a long passphrase", remember_me: true };
export function keep(session: Schemas["SessionResponse"]): [string, string, number] {
    return [session.access_token, session.refresh_token, session.expires_in];
}

// Asking whether a member may write.
export function mayWrite(status: Json<"/v1/members/{member}/status", "get">): boolean {
    const until: string | null | undefined = status.banned_until;
    return status.can_write && until === null;
}

// A batch: each item is a status or an error, for the member as it was asked.
export function banned(batch: Json<"/v1/status/batch", "post">): (string | number)[] {
    return batch.items.filter((item) => item.status && !item.status.can_read).map((item) => item.member);
}

// Paging through the directory: a page (with its total, capped at 10,000),
// or, for a service walking every member, a step with the next cursor.
export function names(answer: Json<"/v1/members", "get">): string[] {
    if ("next_cursor" in answer) {
        const next: string | null = answer.next_cursor;
        return next === null ? [] : answer.items.map((member) => member.username);
    }
    const more: boolean = !answer.total_capped && answer.page * answer.per_page < answer.total;
    return more ? answer.items.map((member) => member.username) : [];
}

// A page with a field beside its items.
export function karma(page: Json<"/v1/members/{member}/karma-notes", "get">): number {
    return page.karma + page.items.length - page.total;
}

// A problem, and the field a form shows it on.
export function fieldOf(problem: Schemas["Problem"]): string | undefined {
    return problem.errors?.[0]?.field;
}
