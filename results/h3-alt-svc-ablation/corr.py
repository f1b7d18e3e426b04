import json,glob,re,datetime,sys
logs=[l for l in open(sys.argv[1]) if 'pushlab::request' in l]
def ts(l):
    t=datetime.datetime.strptime(l.split()[0][:26],'%Y-%m-%dT%H:%M:%S.%f').replace(tzinfo=datetime.timezone.utc); return t.timestamp()*1000
srv=[]
for l in logs:
    m=dict(re.findall(r'(\w+)="?([^\s"]+)"?',l))
    end=ts(l); srv.append((m['path'],end-float(m['duration_ms']),end,m['remote']))
for f in sorted(glob.glob(sys.argv[2]+'/*.json')):
    d=json.load(open(f)); c=d['constants']; off=float(c['timeTickOffset']); E=c['logEventTypes']
    src_url={}
    for e in d['events']:
        p=e.get('params') or {}
        if 'url' in p and e['source']['id'] not in src_url: src_url[e['source']['id']]=p['url']
    send={}; hdr={}; 
    for e in d['events']:
        u=src_url.get(e['source']['id'],'')
        if not u: continue
        path='/'+u.split('/',3)[3]
        t=float(e['time'])+off
        if e['type']==E['HTTP_TRANSACTION_SEND_REQUEST'] and e.get('phase')==1 and path not in send: send[path]=t
        if e['type']==E['HTTP_TRANSACTION_READ_RESPONSE_HEADERS'] and path not in hdr: hdr[path]=t
    t0=send.get('/index.html')
    print(f.split('/')[-1])
    for path in ['/index.html','/css/style.css','/js/app.js','/css/theme.css','/img/thumb-2.png','/js/lazy.js']:
        s=[x for x in srv if x[0]==path and t0 and abs(x[1]-send.get(path,0))<2000]
        if not s or path not in send: continue
        a,e_,_=s[0][1],s[0][2],s[0][3]
        print(f"  {path:18s} sent {send[path]-t0:7.1f}  at server {a-t0:7.1f} (+{a-send[path]:5.1f})  server done {e_-t0:7.1f}  headers read {hdr.get(path,0)-t0:7.1f} (+{hdr.get(path,0)-e_:6.1f} after server done)")
