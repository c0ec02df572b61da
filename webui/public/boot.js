// Starts the experiment page's two critical requests while the app bundle is still downloading:
// the experiment and its learning curves, side by side. src/prefetch.ts adopts these
// responses; the curves URL must match curvesPath() in src/curves.ts.
// A file of its own, not inline in index.html, so that the master's Content Security Policy can forbid
// inline scripts (script-src 'self'). Without a stored token nothing is requested: the login form comes up.
/* global location, window, localStorage, URLSearchParams */
(function () {
  var m = /^\/experiments\/(\d+)(\/curves)?\/?$/.exec(location.pathname);
  var q = new URLSearchParams(location.search);
  // The runs view (/experiments?view=runs, maybe with a project or archived) needs its first window of runs: the
  // URL must match runsPath() in src/mgmtApi.ts plus the first window of src/pages/Runs.tsx (webui/test/runs.test.ts
  // checks that the app adopts it rather than asking again). Other filters: the app asks itself.
  var runs = /^\/experiments\/?$/.test(location.pathname) && q.get('view') === 'runs';
  if (runs) q.forEach(function (v, k) { if (k !== 'view' && k !== 'project' && k !== 'archived') runs = false; });
  if ((!m && !runs) || !window.fetch) return;
  var token = null;
  try { token = localStorage.getItem('hone.token'); } catch (e) { /* storage disabled */ }
  if (!token) return;
  var headers = { Accept: 'application/json', Authorization: 'Bearer ' + token };
  var pending = (window.__honePrefetch = {});
  var get = function (path) { return (pending[path] = fetch('/api/v1' + path, { headers: headers })); };
  if (runs) {
    var rq = new URLSearchParams({ sort: 'id', order: 'desc' });
    if (q.get('project')) rq.set('project', q.get('project'));
    if (q.get('archived') === '1') rq.set('archived', 'all');
    get('/runs?' + rq.toString() + '&offset=0&limit=100');
    return;
  }
  // The experiment, and its curves at once beside it: the curves URL needs nothing from the experiment (the
  // master spreads the point budget over the curves, and takes the searcher's metric when none is named).
  // `curves` resolves to { path, res } so the app can tell whether its own URL matches.
  get('/experiments/' + m[1]);
  var group = q.get('group') === 'training' ? 'training' : 'validation';
  var metric = q.get('metric');
  var path = '/experiments/' + m[1] + '/metrics?group=' + group + (metric ? '&metric=' + encodeURIComponent(metric) : '') + '&point_budget=20000';
  pending.curves = Promise.resolve({ path: path, res: fetch('/api/v1' + path, { headers: headers }) });
})();
