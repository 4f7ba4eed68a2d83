-- The text key (shared/pipeline/text_key.ts) is an XXH64 of the extracted text (16 hex
-- digits) instead of its SHA-256 (64): the key is computed at every check, and the digest
-- of a 38 KB text took 6-10 % of a change run's main-thread CPU in the workers' Deno 2.1.4
-- (docs/benchmarks.md, session 12). Keys of the SHA-256 form stay valid values: a function
-- deployed before this migration may still write them, and the pipeline reads them as a
-- miss (the check normalises once and stores a key of the new form).

alter table public.sources drop constraint sources_text_key_check;
alter table public.sources add constraint sources_text_key_check
  check (text_key is null or text_key ~ '^(?:[0-9a-f]{16}|[0-9a-f]{64}):[0-9]{1,9}$');

comment on column public.sources.text_key is 'What lets a check of an unchanged page skip normalisation: "<key>:<chars>", key the XXH64 (16 hex digits; 64 hex digits: a SHA-256 key written before 2026-12-02, read as a miss) of the text extracted at a check, the version of the normaliser, the ignore patterns and the hash that text normalised to, chars the normalised text''s length (shared/pipeline/text_key.ts). A later check whose extracted text gives the same key with the source''s current last_hash has that hash. Null: none yet.';
