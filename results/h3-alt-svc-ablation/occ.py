import json,sys,statistics as st
from collections import defaultdict
d=sys.argv[1]
R=json.load(open(d+'/runs.json'))
tr={}
for l in open(d+'/traces.jsonl'):
    x=json.loads(l); tr[(x['config'],x['run'])]=x['trace']
out=defaultdict(lambda: defaultdict(list))
for r in R['runs']:
    c=R['configs'][r['config']]
    key=(c['variant'],c['browser'])
    res={x['path']:x for x in r['load']['resources']}
    th=res.get('/css/theme.css')
    if not th or th.get('requested_ms') is None: continue
    t=th['requested_ms']; T=tr.get((r['config'],r['run']))
    if not T: continue
    p=min(T,key=lambda p:abs(p['t_ms']-t))
    out[key]['q_kB'].append(p['link_queue_bytes']/1e3)
    if p['conn']: out[key]['inflight_kB'].append(p['conn']['in_flight']/1e3); out[key]['cwnd_kB'].append(p['conn']['cwnd']/1e3); out[key]['queued_kB'].append(p['conn']['queued']/1e3)
    out[key]['theme_wait'].append(th['done_ms']-t)
for k,v in sorted(out.items()):
    print(k, {m:round(st.median(x),1) for m,x in v.items()})
