-- Render mode of a source: 'static' (an HTTP GET, the default) or 'browser' (the page is
-- loaded by a real browser over the Chrome DevTools Protocol, its scripts run, and the
-- rendered DOM is extracted like a static page). Browser failures have their own class.

alter table public.sources add column if not exists render text not null default 'static'
  constraint sources_render_check check (render in ('static', 'browser'));
comment on column public.sources.render is 'How the page is fetched: static (HTTP GET, default) or browser (rendered by a real browser at BROWSER_WS_ENDPOINT, scripts run; HTML pages only).';

alter table public.sources drop constraint if exists sources_last_error_class_check;
alter table public.sources add constraint sources_last_error_class_check
  check (last_error_class is null or last_error_class in (
    'dns', 'connect', 'timeout', 'tls', 'http_4xx', 'http_5xx', 'too_large',
    'too_many_redirects', 'unsupported_content', 'parse', 'blocked', 'browser', 'internal'));
comment on column public.sources.last_error_class is 'Class of the last failure (dns, connect, timeout, tls, http_4xx, http_5xx, too_large, too_many_redirects, unsupported_content, parse, blocked, browser, internal).';
