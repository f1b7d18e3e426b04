#!/usr/bin/env python3
"""The ACK frames Chromium sent, from its net log (QUIC_SESSION_ACK_FRAME_SENT):
how many per packet received, and how long each was held
(delta_time_largest_observed_us), before and after 400 ms.
Usage: chromium_acks.py NETLOG.json[.gz] [...]
"""
import gzip
import json,sys,statistics as st
for f in sys.argv[1:]:
    t=(gzip.open(f,'rt') if f.endswith('.gz') else open(f)).read().rstrip().rstrip(',')
    try: v=json.loads(t)
    except: v=json.loads(t+']}')
    types={v:k for k,v in v['constants']['logEventTypes'].items()}
    ev=v['events']
    t0=next(float(e['time']) for e in ev if types[e['type']]=='HTTP_TRANSACTION_SEND_REQUEST')
    acks=[(float(e['time'])-t0, e['params']) for e in ev if types[e['type']]=='QUIC_SESSION_ACK_FRAME_SENT' and 'params' in e]
    rx=[float(e['time'])-t0 for e in ev if types[e['type']]=='QUIC_SESSION_PACKET_RECEIVED']
    for lo,hi in ((0,400),(400,1e9)):
        a=[p for t,p in acks if lo<=t<hi]; r=[t for t in rx if lo<=t<hi]
        lo_=[p['largest_observed'] for p in a]
        step=[b-a_ for a_,b in zip(lo_,lo_[1:]) if b>a_]
        delayed=sum(1 for p in a if p['delta_time_largest_observed_us']>20000)
        print(f.split('/')[-1], f"{lo}-{'end' if hi>1e8 else hi} ms: packets received {len(r)}, ACK frames {len(a)} (one per {len(r)/max(1,len(a)):.1f}); packets per ACK median {st.median(step) if step else '-'} max {max(step) if step else '-'}; ACKs held >20 ms: {delayed}; median ack delay {st.median([p['delta_time_largest_observed_us'] for p in a])/1000 if a else 0:.2f} ms")
