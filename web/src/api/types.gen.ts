// Temporary hand-written stand-in; replaced by the generated file.
export interface User { id: string; username: string; display_name: string; status_text: string; role: string; disabled: boolean; created_at: string; updated_at: string }
export interface Session { id: string; user_id: string; created_at: string; last_used_at: string; expires_at: string; ip: string; user_agent: string; current: boolean }
export interface Channel { id: string; name?: string; kind: string; encrypted: boolean; topic: string; purpose: string; created_by: string; created_at: string; updated_at: string; archived: boolean; last_seq: number; members?: string[]; archived_at?: string; role?: string; last_read_seq: number; unread_count: number; mention_count: number; muted: boolean; notify?: string; hidden: boolean }
export interface Member { channel_id: string; user_id: string; role: string; joined_at: string; last_read_seq: number; muted: boolean; notify: string; hidden: boolean }
export interface Sender { type: string; id: string }
export interface ReactionCount { emoji: string; count: number; me: boolean }
export interface Message { id: string; channel_id: string; seq: number; client_msg_id: string; sender: Sender; kind: string; body?: string; ciphertext?: string; thread_root_id?: string; reply_count: number; last_reply_at?: string; reactions: ReactionCount[] | null; attachments: string[] | null; mentions?: string[]; pinned: boolean; created_at: string; edited_at?: string; deleted: boolean }
