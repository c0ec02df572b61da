// Starts the experiment page's two critical requests while the app bundle is still downloading:
// the experiment, then (as soon as it arrives) its learning curves. src/prefetch.ts adopts these
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
  // `curves` resolves to { path, res } (or null) so the app can tell whether its own URL matches.
  pending.curves = get('/experiments/' + m[1]).then(function (res) {
    if (!res.ok) return null;
    return res.clone().json().then(function (d) {
      var n = Math.max(1, d.numTrials, d.trials.length);
      var ladder = [200, 100, 50, 30, 20], pts = 20;
      for (var i = 0; i < ladder.length; i++) if (ladder[i] * n <= 20000) { pts = ladder[i]; break; }
      var group = q.get('group') === 'training' ? 'training' : 'validation';
      var metric = q.get('metric') || d.metric;
      var path = '/experiments/' + d.id + '/metrics?group=' + group + '&metric=' + encodeURIComponent(metric) + '&max_points=' + pts;
      return { path: path, res: fetch('/api/v1' + path, { headers: headers }) };
    });
  }).catch(function () { return null; });
})();
