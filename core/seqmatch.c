/*
 * seqmatch.c - the Ratcliff-Obershelp matcher of spec/history.md §11.3,
 * the unified-diff hunk grouping of §11.5, string interning and line
 * splitting (infrastructure).
 *
 * The matcher follows the procedure Python's difflib.SequenceMatcher
 * documents, without a junk function ("isjunk" None, autojunk on):
 *
 *   longest match in a[alo:ahi], b[blo:bhi]: for each i in order, the
 *   length of the run of equal elements ending at (i, j) is one more than
 *   the run ending at (i - 1, j - 1); the first strictly longest run wins
 *   (so ties go to the smallest start in a, then in b). Only elements
 *   that are not "popular" seed runs: when b has at least 200 elements,
 *   an element occurring more than floor(len(b) / 100) + 1 times in b is
 *   popular. The best run is then extended over equal elements (popular
 *   ones included) first to the left, then to the right.
 *
 *   matching blocks: the longest match of the whole ranges, then the same
 *   on the parts left and right of it where both sides are non-empty;
 *   sorted, blocks adjacent on both sides merged, a sentinel (na, nb, 0).
 *
 *   opcodes: between consecutive blocks, replace / delete / insert; each
 *   non-empty block is an equal run.
 */
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "error.h"
#include "seqmatch.h"

void tract_seq_ops_dispose(tract_seq_ops *o)
{
	free(o->ops);
	memset(o, 0, sizeof(*o));
}

static int ops_push(tract_seq_ops *o, tract_seq_tag tag, size_t i1, size_t i2, size_t j1,
		    size_t j2)
{
	if (tract_array_reserve(&o->ops, &o->cap, o->count + 1, sizeof(*o->ops), 16) < 0)
		return TRACT_ENOMEM;
	o->ops[o->count++] = (tract_seq_op){tag, i1, i2, j1, j2};
	return 0;
}

/* ---- the matcher ------------------------------------------------------- */

typedef struct {
	const uint32_t *a, *b;
	size_t na, nb;
	/* b2j in compressed form: the positions in b of symbol s are
	 * pos[start[s] .. start[s + 1]), ascending; a popular symbol has an
	 * empty range. */
	size_t *start, *pos;
	/* run lengths of the previous and the current row of i, indexed by
	 * j + 1, valid where their stamp equals the row's */
	size_t *len[2];
	uint64_t *stamp[2];
	uint64_t row;
} matcher;

typedef struct {
	size_t i, j, k;
} block;

static int matcher_init(matcher *m, const uint32_t *a, size_t na, const uint32_t *b, size_t nb,
			uint32_t nsym)
{
	size_t s, j, *fill = NULL;

	memset(m, 0, sizeof(*m));
	m->a = a;
	m->b = b;
	m->na = na;
	m->nb = nb;
	m->start = calloc((size_t)nsym + 1, sizeof(size_t));
	m->pos = malloc((nb ? nb : 1) * sizeof(size_t));
	fill = calloc((size_t)nsym + 1, sizeof(size_t));
	for (int k = 0; k < 2; k++) {
		m->len[k] = malloc((nb + 1) * sizeof(size_t));
		m->stamp[k] = calloc(nb + 1, sizeof(uint64_t));
	}
	if (!m->start || !m->pos || !fill || !m->len[0] || !m->len[1] || !m->stamp[0] ||
	    !m->stamp[1]) {
		free(fill);
		return tract_error_oom();
	}
	for (j = 0; j < nb; j++)
		m->start[b[j] + 1]++;
	/* the popularity rule */
	if (nb >= 200) {
		size_t ntest = nb / 100 + 1;
		for (s = 0; s < nsym; s++)
			if (m->start[s + 1] > ntest)
				m->start[s + 1] = 0;
	}
	for (s = 0; s < nsym; s++)
		m->start[s + 1] += m->start[s];
	for (j = 0; j < nb; j++) {
		uint32_t v = b[j];
		if (m->start[v] + fill[v] < m->start[v + 1])
			m->pos[m->start[v] + fill[v]++] = j;
	}
	free(fill);
	/* Stamps start at 0 and every row gets a fresh number above 2. */
	m->row = 2;
	return 0;
}

static void matcher_dispose(matcher *m)
{
	free(m->start);
	free(m->pos);
	for (int k = 0; k < 2; k++) {
		free(m->len[k]);
		free(m->stamp[k]);
	}
}

static block longest_match(matcher *m, size_t alo, size_t ahi, size_t blo, size_t bhi)
{
	const uint32_t *a = m->a, *b = m->b;
	size_t besti = alo, bestj = blo, bestsize = 0, i;

	/* A gap in the stamps: the first row sees no previous row. */
	m->row += 2;
	for (i = alo; i < ahi; i++) {
		uint64_t cur = ++m->row;
		size_t *clen = m->len[cur & 1], *plen = m->len[(cur - 1) & 1];
		uint64_t *cst = m->stamp[cur & 1], *pst = m->stamp[(cur - 1) & 1];
		uint32_t v = a[i];

		for (size_t p = m->start[v]; p < m->start[v + 1]; p++) {
			size_t j = m->pos[p], k;
			if (j < blo)
				continue;
			if (j >= bhi)
				break;
			/* the run ending at (i - 1, j - 1), slot j */
			k = (pst[j] == cur - 1 ? plen[j] : 0) + 1;
			clen[j + 1] = k;
			cst[j + 1] = cur;
			if (k > bestsize) {
				besti = i + 1 - k;
				bestj = j + 1 - k;
				bestsize = k;
			}
		}
	}
	while (besti > alo && bestj > blo && a[besti - 1] == b[bestj - 1]) {
		besti--;
		bestj--;
		bestsize++;
	}
	while (besti + bestsize < ahi && bestj + bestsize < bhi &&
	       a[besti + bestsize] == b[bestj + bestsize])
		bestsize++;
	return (block){besti, bestj, bestsize};
}

static int block_cmp(const void *x, const void *y)
{
	const block *p = x, *q = y;

	if (p->i != q->i)
		return p->i < q->i ? -1 : 1;
	if (p->j != q->j)
		return p->j < q->j ? -1 : 1;
	return p->k < q->k ? -1 : p->k > q->k;
}

int tract_seq_opcodes(tract_seq_ops *out, const uint32_t *a, size_t na, const uint32_t *b,
		      size_t nb, uint32_t nsym)
{
	matcher m;
	block *blocks = NULL, *stack = NULL;
	size_t nblocks = 0, nstack = 0, cap = 0, i, j;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = matcher_init(&m, a, na, b, nb, nsym);
	if (rc < 0)
		goto done;
	/* At most min(na, nb) blocks and as many pending ranges, plus the
	 * sentinel. */
	cap = (na < nb ? na : nb) + 2;
	blocks = malloc(cap * sizeof(*blocks));
	stack = malloc(cap * sizeof(*stack) * 2);
	if (!blocks || !stack) {
		rc = tract_error_oom();
		goto done;
	}
	/* stack entries: (alo, ahi) in i/k, (blo, bhi) in j/... */
	if (na && nb) {
		stack[nstack++] = (block){0, na, 0};
		stack[nstack++] = (block){0, nb, 0};
	}
	while (nstack) {
		block br = stack[--nstack], ar = stack[--nstack];
		size_t alo = ar.i, ahi = ar.j, blo = br.i, bhi = br.j;
		block x = longest_match(&m, alo, ahi, blo, bhi);

		if (!x.k)
			continue;
		blocks[nblocks++] = x;
		if (alo < x.i && blo < x.j) {
			stack[nstack++] = (block){alo, x.i, 0};
			stack[nstack++] = (block){blo, x.j, 0};
		}
		if (x.i + x.k < ahi && x.j + x.k < bhi) {
			stack[nstack++] = (block){x.i + x.k, ahi, 0};
			stack[nstack++] = (block){x.j + x.k, bhi, 0};
		}
	}
	qsort(blocks, nblocks, sizeof(*blocks), block_cmp);
	/* merge blocks adjacent on both sides, add the sentinel */
	{
		size_t n = 0;
		block cur = {0, 0, 0};
		for (size_t k = 0; k < nblocks; k++) {
			if (cur.i + cur.k == blocks[k].i && cur.j + cur.k == blocks[k].j) {
				cur.k += blocks[k].k;
			} else {
				if (cur.k)
					blocks[n++] = cur;
				cur = blocks[k];
			}
		}
		if (cur.k)
			blocks[n++] = cur;
		blocks[n++] = (block){na, nb, 0};
		nblocks = n;
	}
	i = j = 0;
	for (size_t k = 0; k < nblocks && rc == 0; k++) {
		const block *x = &blocks[k];
		if (i < x->i && j < x->j)
			rc = ops_push(out, TRACT_SEQ_REPLACE, i, x->i, j, x->j);
		else if (i < x->i)
			rc = ops_push(out, TRACT_SEQ_DELETE, i, x->i, j, x->j);
		else if (j < x->j)
			rc = ops_push(out, TRACT_SEQ_INSERT, i, x->i, j, x->j);
		i = x->i + x->k;
		j = x->j + x->k;
		if (rc == 0 && x->k)
			rc = ops_push(out, TRACT_SEQ_EQUAL, x->i, i, x->j, j);
	}
done:
	free(blocks);
	free(stack);
	matcher_dispose(&m);
	if (rc < 0)
		tract_seq_ops_dispose(out);
	return rc;
}

/* ---- hunks --------------------------------------------------------------- */

static size_t min_z(size_t x, size_t y)
{
	return x < y ? x : y;
}

static size_t max_z(size_t x, size_t y)
{
	return x > y ? x : y;
}

static size_t sub_floor(size_t x, size_t y, size_t floor)
{
	return x >= y && x - y > floor ? x - y : floor;
}

int tract_seq_group(tract_seq_ops *out, size_t **starts, size_t *ngroups,
		    const tract_seq_ops *ops, size_t n)
{
	tract_seq_ops codes = {0};
	size_t *st = NULL, nst = 0, cap = 0, group_start = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*starts = NULL;
	*ngroups = 0;
	for (size_t k = 0; k < ops->count && rc == 0; k++)
		rc = ops_push(&codes, ops->ops[k].tag, ops->ops[k].i1, ops->ops[k].i2,
			      ops->ops[k].j1, ops->ops[k].j2);
	if (rc == 0 && codes.count == 0)
		rc = ops_push(&codes, TRACT_SEQ_EQUAL, 0, 1, 0, 1);
	if (rc < 0)
		goto fail;
	/* trim a leading and a trailing equal run to n lines */
	if (codes.ops[0].tag == TRACT_SEQ_EQUAL) {
		tract_seq_op *c = &codes.ops[0];
		c->i1 = max_z(c->i1, sub_floor(c->i2, n, 0));
		c->j1 = max_z(c->j1, sub_floor(c->j2, n, 0));
	}
	if (codes.ops[codes.count - 1].tag == TRACT_SEQ_EQUAL) {
		tract_seq_op *c = &codes.ops[codes.count - 1];
		c->i2 = min_z(c->i2, c->i1 + n);
		c->j2 = min_z(c->j2, c->j1 + n);
	}
	cap = codes.count + 2;
	st = malloc(cap * sizeof(*st));
	if (!st) {
		rc = tract_error_oom();
		goto fail;
	}
	for (size_t k = 0; k < codes.count && rc == 0; k++) {
		tract_seq_op c = codes.ops[k];
		/* a long unchanged run ends the group and starts the next */
		if (c.tag == TRACT_SEQ_EQUAL && c.i2 - c.i1 > 2 * n) {
			rc = ops_push(out, c.tag, c.i1, min_z(c.i2, c.i1 + n), c.j1,
				      min_z(c.j2, c.j1 + n));
			if (rc < 0)
				break;
			if (nst + 2 > cap) {
				size_t *ns = realloc(st, (cap *= 2) * sizeof(*st));
				if (!ns) {
					rc = tract_error_oom();
					break;
				}
				st = ns;
			}
			st[nst++] = group_start;
			group_start = out->count;
			c.i1 = max_z(c.i1, sub_floor(c.i2, n, 0));
			c.j1 = max_z(c.j1, sub_floor(c.j2, n, 0));
		}
		rc = ops_push(out, c.tag, c.i1, c.i2, c.j1, c.j2);
	}
	if (rc < 0)
		goto fail;
	/* the last group, unless it is a lone equal run */
	if (out->count > group_start &&
	    !(out->count - group_start == 1 && out->ops[group_start].tag == TRACT_SEQ_EQUAL)) {
		st[nst++] = group_start;
		group_start = out->count;
	}
	st[nst] = group_start;
	*starts = st;
	*ngroups = nst;
	tract_seq_ops_dispose(&codes);
	return 0;
fail:
	free(st);
	tract_seq_ops_dispose(&codes);
	tract_seq_ops_dispose(out);
	return rc;
}

/* ---- interning ------------------------------------------------------------ */

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

int tract_seq_intern(uint32_t **ids_a, uint32_t **ids_b, uint32_t *nsym, const tract_seq_str *a,
		     size_t na, const tract_seq_str *b, size_t nb)
{
	size_t total = na + nb, cap = 16, k;
	/* open addressing: slot -> index into the combined input + 1 */
	size_t *slots;
	uint64_t *hashes;
	uint32_t *ia, *ib, next = 0;

	*ids_a = *ids_b = NULL;
	*nsym = 0;
	while (cap < 2 * total)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	hashes = malloc(cap * sizeof(*hashes));
	ia = malloc((na ? na : 1) * sizeof(*ia));
	ib = malloc((nb ? nb : 1) * sizeof(*ib));
	if (!slots || !hashes || !ia || !ib) {
		free(slots);
		free(hashes);
		free(ia);
		free(ib);
		return tract_error_oom();
	}
	for (k = 0; k < total; k++) {
		const tract_seq_str *s = k < na ? &a[k] : &b[k - na];
		uint32_t *id = k < na ? &ia[k] : &ib[k - na];
		uint64_t h = fnv1a(s->ptr, s->len);
		size_t slot = (size_t)h & (cap - 1);

		for (;;) {
			size_t e = slots[slot];
			if (!e) {
				slots[slot] = k + 1;
				hashes[slot] = h;
				*id = next++;
				break;
			}
			const tract_seq_str *o = e - 1 < na ? &a[e - 1] : &b[e - 1 - na];
			if (hashes[slot] == h && o->len == s->len &&
			    (s->len == 0 || memcmp(o->ptr, s->ptr, s->len) == 0)) {
				*id = e - 1 < na ? ia[e - 1] : ib[e - 1 - na];
				break;
			}
			slot = (slot + 1) & (cap - 1);
		}
	}
	free(slots);
	free(hashes);
	*ids_a = ia;
	*ids_b = ib;
	*nsym = next;
	return 0;
}

/* ---- lines ------------------------------------------------------------------ */

/* Length of the line break starting at p (0 when none). */
static size_t line_break(const unsigned char *p, const unsigned char *end)
{
	switch (*p) {
	case '\r':
		return p + 1 < end && p[1] == '\n' ? 2 : 1;
	case '\n':
	case '\v':
	case '\f':
	case 0x1c:
	case 0x1d:
	case 0x1e:
		return 1;
	case 0xc2:
		return p + 1 < end && p[1] == 0x85 ? 2 : 0;
	case 0xe2:
		return p + 2 < end && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9) ? 3 : 0;
	default:
		return 0;
	}
}

int tract_seq_splitlines(tract_seq_str **lines, size_t **term_lens, size_t *count,
			 const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len, *start = p;
	size_t n = 0, cap = 8;
	tract_seq_str *l = malloc(cap * sizeof(*l));
	size_t *t = malloc(cap * sizeof(*t));

	*lines = NULL;
	*term_lens = NULL;
	*count = 0;
	if (!l || !t)
		goto oom;
	while (p < end) {
		size_t br = line_break(p, end);
		if (!br && p + 1 < end) {
			p++;
			continue;
		}
		if (!br)
			p++; /* the last line, without a terminator */
		else
			p += br;
		if (n == cap) {
			tract_seq_str *nl;
			size_t *nt;
			cap *= 2;
			nl = realloc(l, cap * sizeof(*l));
			if (!nl)
				goto oom;
			l = nl;
			nt = realloc(t, cap * sizeof(*t));
			if (!nt)
				goto oom;
			t = nt;
		}
		l[n].ptr = (const char *)start;
		l[n].len = (size_t)(p - start);
		t[n] = br;
		n++;
		start = p;
	}
	*lines = l;
	*term_lens = t;
	*count = n;
	return 0;
oom:
	free(l);
	free(t);
	return tract_error_oom();
}
