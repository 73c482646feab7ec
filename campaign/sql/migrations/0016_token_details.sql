-- A confirmation link confirms the details it was sent for (issue 14, §4). Anyone who knows a
-- pending signer's address can sign again with other names, mandate, territory or consent; the
-- signature then shows the newest details, and a new link is sent for them. The links sent
-- before keep, in `details`, what the signature said when they were sent (copied by the
-- re-signing that changes it: refresh_pending_signature), and confirm that: never somebody
-- else's version. NULL (every link until a re-signing): the signature's own details.
-- Erasure deletes the tokens, and these details with them.
ALTER TABLE signature_tokens ADD COLUMN details jsonb;
