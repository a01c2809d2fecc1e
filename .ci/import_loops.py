#!/usr/bin/env python3
"""Fails if two modules of src/ import each other, directly or through a longer loop.

Every `use crate::…`, `use super::…` and `crate::…` path outside comments and test modules is an
import; names re-exported by a module (`pub use`) are followed to the module that defines them.
Run from the repository's top: `python3 .ci/import_loops.py [-v]` (-v prints every edge).
"""
import re, glob, sys

files=glob.glob('src/**/*.rs',recursive=True)
def modname(f):
    m=f[len('src/'):-3]
    if m.endswith('/mod'): m=m[:-4]
    return '' if m=='lib' else m.replace('/','::')
mods={modname(f):f for f in files}
def strip(src):
    src=re.sub(r'#\[cfg\(test\)\]\s*mod tests \{.*','',src,flags=re.S)
    return '\n'.join(l for l in src.split('\n') if not l.strip().startswith('//'))
text={m:strip(open(f).read()) for m,f in mods.items()}
def flatten(body):
    out=[]
    def walk(prefix,b):
        b=b.strip()
        if not b: return
        if b.startswith('{'):
            inner=b[1:-1];depth=0;cur='';parts=[]
            for c in inner:
                if c=='{':depth+=1
                if c=='}':depth-=1
                if c==',' and depth==0: parts.append(cur);cur=''
                else: cur+=c
            parts.append(cur)
            for p in parts: walk(prefix,p)
        elif '::{' in b:
            i=b.index('::{'); walk(prefix+b[:i].split('::'),b[i+2:])
        else:
            segs=[s.strip() for s in prefix+b.split('::')]
            segs=[s.split(' as ')[0] for s in segs if s and s!='self']
            out.append(segs)
    walk([],body)
    return out
# re-exports per module: name -> path segments
reexports={}
for m,src in text.items():
    for u in re.finditer(r'pub(?:\(crate\))? use ((?:crate::|self::|super::)?[^;]*);',src,flags=re.S):
        for segs in flatten(u.group(1)):
            if segs[0]=='crate': full=segs[1:]
            elif segs[0]=='super': full=m.split('::')[:-1]+segs[1:]
            elif segs[0]=='self': full=(m.split('::') if m else [])+segs[1:]
            else: full=(m.split('::') if m else [])+segs
            reexports.setdefault(m,{}).setdefault(segs[-1],full)
def resolve(segs,depth=0):
    # segs: path from crate root; return defining module
    mod=[]
    for i,s in enumerate(segs):
        cand='::'.join(mod+[s])
        if cand in mods: mod.append(s); continue
        # s is an item in module mod
        cur='::'.join(mod)
        r=reexports.get(cur,{}).get(s)
        if r and depth<10 and r!=mod+[s]:
            return resolve(r,depth+1)
        return cur
    return '::'.join(mod)
edges={}
for m,src in text.items():
    if m=='': continue
    deps=set()
    for u in re.finditer(r'\buse (crate::|super::)([^;]*);',src,flags=re.S):
        base=[] if u.group(1)=='crate::' else m.split('::')[:-1]
        for segs in flatten(u.group(2)):
            deps.add(resolve(base+segs))
    for u in re.finditer(r'\bcrate::((?:\w+::)*\w+)',src):
        deps.add(resolve(u.group(1).split('::')))
    deps.discard(m); deps.discard('')
    # a parent module declaring children is not an import
    edges[m]={d for d in deps if d}
found=set()
for a in edges:
    for b in edges[a]:
        if a in edges.get(b,()): found.add(tuple(sorted((a,b))))
print("import loops: mutual imports", sorted(found) or "none")
color={};stack=[];cyc=[]
def dfs(u):
    color[u]=1;stack.append(u)
    for v in sorted(edges.get(u,())):
        if color.get(v)==1: cyc.append(stack[stack.index(v):]+[v])
        elif not color.get(v): dfs(v)
    color[u]=2;stack.pop()
for u in sorted(edges):
    if not color.get(u): dfs(u)
print("import loops: cycles", cyc or "none")
if '-v' in sys.argv:
    for k in sorted(edges): print(k,'->',sorted(edges[k]))
sys.exit(1 if found or cyc else 0)
