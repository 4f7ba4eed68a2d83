-- Demo data for the local stack: three sources on the local demo site
-- (supabase/local/demo_site.ts, http://127.0.0.1:54340) and one signed webhook
-- subscription to the site's sink, which prints what it receives to
-- .stack/logs/demo-site.log. Idempotent: fixed ids, existing rows are left alone.

insert into public.sources (id, name, url, check_frequency) values
  ('00000000-0000-4000-8000-000000000001', 'Examplia visitor visa rules',
   'http://127.0.0.1:54340/policies/visa-rules.html', 'daily'),
  ('00000000-0000-4000-8000-000000000002', 'Examplia portal terms of service',
   'http://127.0.0.1:54340/policies/terms.html', 'daily'),
  ('00000000-0000-4000-8000-000000000003', 'Examplia privacy policy (PDF)',
   'http://127.0.0.1:54340/policies/privacy.pdf', 'daily')
on conflict (id) do nothing;

insert into public.subscriptions (id, source_id, channel, target, secret, operational_alerts) values
  ('00000000-0000-4000-8000-0000000000a1', null, 'webhook',
   'http://127.0.0.1:54340/sink/webhook', 'demo-webhook-secret-change-me-0123456789', true)
on conflict (id) do nothing;
