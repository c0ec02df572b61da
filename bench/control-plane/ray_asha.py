# bench:control-plane's Ray Tune half: the same ASHA workload (sleep per unit, report per unit) on Ray Tune.
# Usage: python ray_asha.py --mode default|reuse --trials 300 --concurrency 32 --unit 0.05 --max-t 16
# Prints one JSON line: trials, wall_s, trials_per_s, cpu_s (this process and its children, incl. Ray's).
import argparse, json, os, random, time

p = argparse.ArgumentParser()
p.add_argument('--mode', default='default')
p.add_argument('--trials', type=int, default=300)
p.add_argument('--concurrency', type=int, default=32)
p.add_argument('--unit', type=float, default=0.05)
p.add_argument('--max-t', type=int, default=16)
p.add_argument('--cpus', type=int, default=32)
a = p.parse_args()

os.environ.setdefault('RAY_DEDUP_LOGS', '0')
os.environ.setdefault('TUNE_DISABLE_AUTO_CALLBACK_LOGGERS', '1')
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler


def trainable(config):
    x = config['x']
    for step in range(1, a.max_t + 1):
        time.sleep(a.unit)
        tune.report({'validation_loss': (x - 0.3) ** 2 + 1 / step, 'training_iteration_': step})


def proc_cpu():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def tree_cpu():
    # Every process of this session's Ray (raylet, GCS, workers) is a descendant of this one.
    total = 0.0
    tick = os.sysconf('SC_CLK_TCK')
    me = os.getpid()
    parents = {}
    stats = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                s = f.read()
            rest = s[s.rindex(')') + 2:].split()
            parents[int(d)] = int(rest[1])
            stats[int(d)] = (int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])) / tick
        except Exception:
            pass
    for pid, st in stats.items():
        q = pid
        while q and q != me and q in parents:
            q = parents[q]
        if q == me and pid != me:
            total += st
    return total


ray.init(num_cpus=a.cpus, include_dashboard=False, logging_level='ERROR', log_to_driver=False)
sched = ASHAScheduler(time_attr='training_iteration', metric='validation_loss', mode='min', max_t=a.max_t, grace_period=1, reduction_factor=4)
t0 = time.time()
c0 = proc_cpu() + tree_cpu()
tuner = tune.Tuner(
    trainable,
    param_space={'x': tune.uniform(0, 1)},
    tune_config=tune.TuneConfig(scheduler=sched, num_samples=a.trials, max_concurrent_trials=a.concurrency, reuse_actors=(a.mode == 'reuse')),
    run_config=tune.RunConfig(verbose=0, storage_path=os.path.join(os.environ.get('TMPDIR', '/tmp'), 'hone-ray-bench')),
)
res = tuner.fit()
wall = time.time() - t0
cpu = proc_cpu() + tree_cpu() - c0
n = len(res)
print(json.dumps({'mode': a.mode, 'trials': n, 'wall_s': wall, 'trials_per_s': n / wall, 'cpu_s': cpu, 'cpu_s_per_trial': cpu / max(1, n)}))
ray.shutdown()
