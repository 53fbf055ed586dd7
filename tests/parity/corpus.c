/*
 * corpus.c - the BPE parity corpus and the benchmark's text generators.
 *
 * Everything is deterministic: a fixed seed drives splitmix64, so the same
 * build writes the same corpus on every machine (whose PCRE2 knows the same
 * Unicode version). Hand-written texts are UTF-8 literals; every text of the
 * strict categories must consist of code points the installed PCRE2 knows
 * (none of them \p{Cn}); random texts draw code points from many blocks and
 * redraw the ones PCRE2 sees as unassigned. See tests/parity/README.md for
 * why.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "corpus.h"

/* ------------------------------------------------------------------ */
/* buffer, PRNG                                                          */
/* ------------------------------------------------------------------ */

static void oom(void)
{
	fputs("corpus: out of memory\n", stderr);
	abort();
}

void pc_buf_add(pc_buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap)))
			oom();
		b->p = p;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void pc_buf_adds(pc_buf *b, const char *s)
{
	pc_buf_add(b, s, strlen(s));
}

void pc_buf_addc(pc_buf *b, char ch)
{
	pc_buf_add(b, &ch, 1);
}

/* UTF-8 of a scalar value into u; the byte count. */
static size_t utf8_encode(uint32_t cp, unsigned char u[4])
{
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	u[0] = (unsigned char)(0xf0 | cp >> 18);
	u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

void pc_buf_addcp(pc_buf *b, uint32_t cp)
{
	unsigned char u[4];

	pc_buf_add(b, u, utf8_encode(cp, u));
}

void pc_buf_addf(pc_buf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		oom();
	pc_buf_add(b, tmp, (size_t)n);
}

uint64_t pc_rand(pc_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t pc_below(pc_rng *r, size_t n)
{
	return (size_t)(pc_rand(r) % n);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ */
/* prose: a few sentences per language, grouped by script               */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *cat;
	const char *lang;
	const char *s[6]; /* NULL-terminated */
} language;

/* clang-format off */
static const language languages[] = {
	{"prose-latin", "English", {
		"The committee met on Tuesday to review the budget, but nobody could agree on the figures.",
		"She'd said it wouldn't rain; they're soaked now, and we'll hear about it for weeks.",
		"In 1969, Apollo 11 landed on the Moon: Neil Armstrong's first words were broadcast worldwide.",
		"Why does the cache miss so often? Because the working set (about 3.2 GB) doesn't fit in memory!",
		"THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG; the Quick Brown Fox jumps again.", NULL}},
	{"prose-latin", "French", {
		"L'été dernier, nous sommes allés à la mer avec nos cousins de Marseille.",
		"Qu'est-ce que tu en penses ? C'est un peu cher, mais ça vaut le coup.",
		"Les élèves doivent rendre leurs devoirs avant vendredi, sans exception.",
		"« Où est passé l'œuf de Pâques ? » demanda-t-elle, déçue.", NULL}},
	{"prose-latin", "German", {
		"Die Straßenbahn fährt heute wegen eines Unfalls nicht über die Brücke.",
		"Könnten Sie mir bitte erklären, warum das Gerät schon wieder kaputt ist?",
		"Übermorgen beginnt das Oktoberfest, und alle Hotelzimmer sind längst ausgebucht.",
		"Donaudampfschifffahrtsgesellschaftskapitänsmütze ist ein sehr langes Wort.", NULL}},
	{"prose-latin", "Spanish", {
		"¿Dónde está la biblioteca? Necesito devolver tres libros antes del mediodía.",
		"El niño comió una manzana y después jugó en el jardín con su perro.",
		"¡Qué sorpresa! No esperábamos verte por aquí tan pronto.", NULL}},
	{"prose-latin", "Portuguese", {
		"A reunião foi adiada para amanhã porque o diretor está doente.",
		"Não sei se vou conseguir terminar o relatório até às cinco horas.",
		"Ele pôs o açúcar no café e saiu sem dizer uma palavra.", NULL}},
	{"prose-latin", "Polish", {
		"Zażółć gęślą jaźń, to zdanie zawiera wszystkie polskie litery diakrytyczne.",
		"Wczoraj poszliśmy do kina, ale film okazał się bardzo nudny.",
		"ŻÓŁW PEŁZNIE POWOLI PRZEZ ŁĄKĘ.", NULL}},
	{"prose-latin", "Czech", {
		"Příliš žluťoučký kůň úpěl ďábelské ódy.",
		"Řeka Vltava protéká Prahou a dělí ji na dvě části.", NULL}},
	{"prose-latin", "Vietnamese", {
		"Tiếng Việt có sáu thanh điệu và sử dụng bảng chữ cái Latinh với nhiều dấu phụ.",
		"Hôm nay trời đẹp quá, chúng ta đi dạo công viên nhé.",
		"Người Việt thường ăn phở vào buổi sáng.", NULL}},
	{"prose-latin", "Turkish", {
		"İstanbul'da yaşayan ılımlı bir öğretmen, çocuklara şiir okumayı sevdirdi.",
		"Işık söndüğünde ÇOCUKLAR KORKTU, ama ağlamadılar.",
		"Türkiye'nin başkenti Ankara'dır.", NULL}},
	{"prose-latin", "Icelandic", {
		"Þórður og Ægir fóru til Reykjavíkur með ferjunni í gær.",
		"Ég veit ekki hvað klukkan er.", NULL}},
	{"prose-latin", "Croatian", {
		"ǅemal i ǈubica žive u Đakovu; ǆamija je blizu.",
		"Čovjek je došao kući kasno navečer.", NULL}},
	{"prose-cjk", "Chinese", {
		"今天天气很好，我们一起去公园散步吧。",
		"机器学习模型需要大量的数据来进行训练，但数据的质量同样重要。",
		"他说：“这本书我已经看了三遍了！”",
		"2023年，中国的GDP增长了5.2%。", NULL}},
	{"prose-cjk", "Chinese (traditional)", {
		"臺灣的夜市非常熱鬧，小吃種類繁多，價格也很便宜。",
		"學習語言需要耐心與恆心。",
		"「你吃飯了嗎？」是常見的問候語。", NULL}},
	{"prose-cjk", "Japanese", {
		"昨日、東京駅で古い友達に偶然会いました。",
		"このプログラムはメモリを大量に使用するため、注意が必要です。",
		"ｶﾀｶﾅの半角文字も、たまに使われます。",
		"「すみません、駅はどこですか？」と彼は尋ねた。", NULL}},
	{"prose-cjk", "Korean", {
		"서울의 봄은 짧지만 아름답습니다.",
		"이 문서는 자동으로 번역되었으며, 일부 표현이 어색할 수 있습니다.",
		"오늘 저녁에 뭐 먹을까요?", NULL}},
	{"prose-arabic", "Arabic", {
		"ذهب الطالب إلى المكتبة ليستعير كتاباً عن تاريخ الأندلس.",
		"هل يمكنك مساعدتي في ترجمة هذه الرسالة؟",
		"اللُّغَةُ العَرَبِيَّةُ جَمِيلَةٌ جِدّاً.",
		"وُلِد في عام ١٩٨٧ في مدينة القاهرة.", NULL}},
	{"prose-arabic", "Persian", {
		"امروز هوا خیلی خوب است و ما به پارک می‌رویم.",
		"کتاب‌هایش را روی میز گذاشت.", NULL}},
	{"prose-arabic", "Urdu", {
		"مجھے اردو شاعری بہت پسند ہے۔",
		"آپ کا نام کیا ہے؟", NULL}},
	{"prose-devanagari", "Hindi", {
		"भारत एक विशाल देश है जिसमें अनेक भाषाएँ बोली जाती हैं।",
		"क्या आप मुझे स्टेशन का रास्ता बता सकते हैं?",
		"कल बारिश होगी, इसलिए छाता साथ ले जाना।",
		"मेरा जन्म १९९२ में हुआ था।", NULL}},
	{"prose-devanagari", "Marathi", {
		"मी उद्या पुण्याला जाणार आहे.",
		"महाराष्ट्राची राजधानी मुंबई आहे.", NULL}},
	{"prose-devanagari", "Sanskrit", {
		"सत्यमेव जयते नानृतं सत्येन पन्था विततो देवयानः।",
		"ॐ भूर्भुवः स्वः॥", NULL}},
	{"prose-devanagari", "Nepali", {
		"नेपालमा धेरै हिमालहरू छन्।", NULL}},
	{"prose-cyrillic", "Russian", {
		"Съешь же ещё этих мягких французских булок, да выпей чаю.",
		"Москва — столица России, крупнейший город страны.",
		"Почему ты не позвонил вчера вечером?",
		"ВНИМАНИЕ! Поезд отправляется в 18:45.", NULL}},
	{"prose-cyrillic", "Ukrainian", {
		"Ґанок біля їхнього будинку пофарбували в жовтий колір.",
		"Україна — країна з багатою історією.", NULL}},
	{"prose-cyrillic", "Serbian", {
		"Љубав и мржња су два лица исте медаље.",
		"Ђорђе је јуче купио нови џемпер.", NULL}},
	{"prose-cyrillic", "Bulgarian", {
		"Вчера ходих на пазар и купих ябълки.", NULL}},
	{"prose-thai", "Thai", {
		"ภาษาไทยเป็นภาษาที่มีวรรณยุกต์",
		"ฉันชอบกินข้าวเหนียวมะม่วงมาก",
		"กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย",
		"วันนี้อากาศร้อนมาก ๓๕ องศา", NULL}},
	{"prose-hebrew", "Hebrew", {
		"שלום עולם, מה שלומך היום?",
		"הספרייה נסגרת בשעה שמונה בערב.",
		"בְּרֵאשִׁית בָּרָא אֱלֹהִים אֵת הַשָּׁמַיִם וְאֵת הָאָרֶץ׃",
		"ב-2020 עברנו לתל אביב.", NULL}},
	{"prose-hebrew", "Yiddish", {
		"איך האָב ליב צו לייענען ביכער.", NULL}},
	{"prose-greek", "Greek", {
		"Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
		"Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.",
		"Τι ώρα είναι; Πρέπει να φύγουμε σύντομα.",
		"Τι κάνεις\u037e ΚΑΛΗΜΕΡΑ ΣΑΣ!", NULL}},
	{"prose-greek", "Ancient Greek", {
		"Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.",
		"ᾯ ᾨ ᾩ ἄνδρα μοι ἔννεπε, Μοῦσα.", NULL}},
	{"prose-other", "Armenian", {
		"Բարև, ինչպե՞ս ես։",
		"Երևանը Հայաստանի մայրաքաղաքն է։", NULL}},
	{"prose-other", "Georgian", {
		"საქართველო ლამაზი ქვეყანაა.",
		"ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ და თბილისი.", NULL}},
	{"prose-other", "Amharic", {
		"ሰላም ለዓለም፤ እንዴት ነህ?",
		"አዲስ አበባ የኢትዮጵያ ዋና ከተማ ናት።", NULL}},
	{"prose-other", "Tamil", {
		"தமிழ் ஒரு பழமையான மொழி.",
		"நான் நேற்று சென்னைக்குச் சென்றேன்.", NULL}},
	{"prose-other", "Bengali", {
		"আমি বাংলায় গান গাই।",
		"ঢাকা বাংলাদেশের রাজধানী।", NULL}},
	{"prose-other", "Khmer", {
		"ភាសាខ្មែរ\u200bមាន\u200bអក្សរ\u200bច្រើន។", NULL}},
	{"prose-other", "Burmese", {
		"မြန်မာဘာသာစကားကို လူသန်းပေါင်းများစွာ ပြောဆိုကြသည်။", NULL}},
	{"prose-other", "Tibetan", {
		"བོད་སྐད་ནི་སྐད་ཡིག་ཅིག་རེད།", NULL}},
	{"prose-other", "Cherokee", {
		"ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ꮳꮃꭹ", NULL}},
};
/* clang-format on */

static size_t sentence_count(const language *l)
{
	size_t n = 0;

	while (n < NELEM(l->s) && l->s[n])
		n++;
	return n;
}

static const char *const joins[] = {" ", " ", " ", "  ", "\n", "\n\n", "\r\n", "\t", " \n"};

/* Sentences of one language in random order with random joins. */
static void prose_shuffle(pc_rng *r, pc_buf *b, const language *l, size_t k)
{
	size_t n = sentence_count(l), i;

	for (i = 0; i < k; i++) {
		if (i)
			pc_buf_adds(b, joins[pc_below(r, NELEM(joins))]);
		pc_buf_adds(b, l->s[pc_below(r, n)]);
	}
}

void pc_gen_prose(pc_rng *r, pc_buf *b, size_t bytes)
{
	size_t end = b->len + bytes;

	while (b->len < end) {
		/* half the paragraphs English, the rest any language */
		const language *l =
		    pc_below(r, 2) ? &languages[0] : &languages[pc_below(r, NELEM(languages))];
		size_t n = sentence_count(l), k = 3 + pc_below(r, 6), i;
		for (i = 0; i < k; i++) {
			if (i)
				pc_buf_addc(b, ' ');
			pc_buf_adds(b, l->s[pc_below(r, n)]);
		}
		pc_buf_adds(b, "\n\n");
	}
}

/* ------------------------------------------------------------------ */
/* source code                                                           */
/* ------------------------------------------------------------------ */

/* clang-format off */
static const char *const code_samples[] = {
	/* C */
	"#include <stdio.h>\n#include <stdlib.h>\n\n"
	"/* Sum the integers given on the command line. */\n"
	"int main(int argc, char **argv)\n{\n\tlong sum = 0;\n\tint i;\n\n"
	"\tfor (i = 1; i < argc; i++)\n\t\tsum += strtol(argv[i], NULL, 10);\n"
	"\tprintf(\"%ld\\n\", sum);\n\treturn sum > 0x7fffffff ? 1 : 0;\n}\n",
	/* Python */
	"import json\nfrom dataclasses import dataclass, field\n\n\n@dataclass\nclass Point:\n"
	"    x: float = 0.0\n    y: float = 0.0\n    tags: list[str] = field(default_factory=list)\n\n"
	"    def norm(self) -> float:\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n\n\n"
	"def load(path):\n    with open(path, encoding='utf-8') as f:\n"
	"        return [Point(**d) for d in json.load(f)]\n\n\n"
	"if __name__ == '__main__':\n    print(sorted(load('points.json'), key=Point.norm)[:10])\n",
	/* JavaScript */
	"'use strict';\nconst fs = require('fs');\n\n"
	"async function fetchAll(urls, { retries = 3 } = {}) {\n"
	"  const results = await Promise.allSettled(urls.map((u) => fetch(u)));\n"
	"  return results.filter((r) => r.status === 'fulfilled').map((r) => r.value);\n}\n\n"
	"module.exports = { fetchAll };\n// TODO: handle retries >= 3 && timeouts !== undefined\n",
	/* Rust */
	"use std::collections::HashMap;\n\n"
	"pub fn word_counts(text: &str) -> HashMap<&str, usize> {\n"
	"    let mut m = HashMap::new();\n    for w in text.split_whitespace() {\n"
	"        *m.entry(w).or_insert(0) += 1;\n    }\n    m\n}\n\n"
	"#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n"
	"    fn counts() {\n        assert_eq!(word_counts(\"a b a\")[\"a\"], 2);\n    }\n}\n",
	/* Go */
	"package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\n"
	"func main() {\n\tif len(os.Args) < 2 {\n\t\tfmt.Fprintln(os.Stderr, \"usage: hello NAME\")\n"
	"\t\tos.Exit(2)\n\t}\n\tfmt.Printf(\"Hello, %s!\\n\", os.Args[1])\n}\n",
	/* shell */
	"#!/usr/bin/env bash\nset -euo pipefail\n\n"
	"for f in \"$@\"; do\n\tif [[ -f $f ]]; then\n\t\twc -l -- \"$f\" | awk '{print $1}'\n"
	"\telse\n\t\techo \"missing: $f\" >&2\n\tfi\ndone 2>&1 | sort -n | tail -n 5\n",
	/* SQL */
	"CREATE TABLE IF NOT EXISTS users (\n    id INTEGER PRIMARY KEY,\n"
	"    email TEXT NOT NULL UNIQUE,\n    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n);\n\n"
	"SELECT u.email, COUNT(o.id) AS orders\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\n"
	"WHERE u.created_at >= '2024-01-01'\nGROUP BY u.email\nHAVING COUNT(o.id) > 3\nORDER BY orders DESC;\n",
	/* HTML + CSS */
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n  <meta charset=\"utf-8\">\n"
	"  <style>\n    body { margin: 0; font: 14px/1.5 system-ui, sans-serif; }\n"
	"    .card:hover > h2::after { content: \"\\2192\"; color: #ff6600; }\n  </style>\n"
	"</head>\n<body>\n  <div class=\"card\"><h2>Title &amp; more</h2><p>Text&nbsp;here.</p></div>\n"
	"</body>\n</html>\n",
	/* a unified diff */
	"diff --git a/core/bpe.c b/core/bpe.c\nindex 3f2a1b0..9c8d7e6 100644\n"
	"--- a/core/bpe.c\n+++ b/core/bpe.c\n@@ -120,7 +120,8 @@ static int merge(void)\n"
	" \tsize_t i;\n-\tfor (i = 0; i < n; i++)\n+\tfor (i = 0; i + 1 < n; i++) {\n"
	"+\t\t/* pairs */\n \t\tpush(i);\n",
	/* Makefile */
	"CC ?= cc\nCFLAGS += -O2 -Wall -Wextra\n\n.PHONY: all clean\n\nall: app\n\n"
	"app: main.o util.o\n\t$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)\n\n"
	"%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\nclean:\n\trm -f app *.o\n",
	/* regular expressions, escapes, long operators */
	"const re = /^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)@/i;\n"
	"x <<= 2; y >>>= 1; z ?\?= a?.b?.[c] ?\? 0; if (a !== b && c === d || !e) {}\n"
	"printf(\"%-10s|%5.2f|%#x\\n\", name, value, flags);\n",
};
/* clang-format on */

void pc_gen_code(pc_rng *r, pc_buf *b, size_t bytes)
{
	size_t end = b->len + bytes;

	while (b->len < end) {
		pc_buf_adds(b, code_samples[pc_below(r, NELEM(code_samples))]);
		pc_buf_addc(b, '\n');
	}
}

/* ------------------------------------------------------------------ */
/* JSON                                                                  */
/* ------------------------------------------------------------------ */

/* clang-format off */
static const char *const json_words[] = {
	"id", "name", "type", "value", "items", "created_at", "user", "email", "tags",
	"metadata", "enabled", "count", "price", "description", "message", "role",
	"content", "function", "arguments", "status", "error",
	"Zürich", "東京", "Москва", "القاهرة", "मुंबई", "Αθήνα", "תל אביב", "กรุงเทพ",
	"naïve", "emoji 😀", "a\\\"b", "line\\nnext", "tab\\there", "\\u00e9t\\u00e9",
	"\\ud83d\\ude00", "C:\\\\Users\\\\me", "https://example.com/a?b=1&c=2", "",
};
/* clang-format on */

static void json_indent(pc_buf *b, const char *ind, int depth)
{
	int i;

	if (!ind)
		return;
	pc_buf_addc(b, '\n');
	for (i = 0; i < depth; i++)
		pc_buf_adds(b, ind);
}

static void json_value(pc_rng *r, pc_buf *b, const char *ind, int depth)
{
	size_t kind = depth >= 4 ? 2 + pc_below(r, 5) : pc_below(r, 7), n, i;

	switch (kind) {
	case 0: /* object */
	case 1: /* array */
		n = pc_below(r, 6);
		pc_buf_addc(b, kind == 0 ? '{' : '[');
		for (i = 0; i < n; i++) {
			if (i)
				pc_buf_addc(b, ',');
			json_indent(b, ind, depth + 1);
			if (kind == 0) {
				pc_buf_addf(b,
				            "\"%s\":", json_words[pc_below(r, NELEM(json_words))]);
				if (ind)
					pc_buf_addc(b, ' ');
			}
			json_value(r, b, ind, depth + 1);
		}
		if (n)
			json_indent(b, ind, depth);
		pc_buf_addc(b, kind == 0 ? '}' : ']');
		break;
	case 2:
		pc_buf_addf(b, "\"%s\"", json_words[pc_below(r, NELEM(json_words))]);
		break;
	case 3:
		pc_buf_addf(b, "%lld", (long long)(pc_rand(r) % 2000000001ull) - 1000000000ll);
		break;
	case 4:
		pc_buf_addf(b, "%.*f", (int)pc_below(r, 7), (double)(pc_rand(r) % 100000) / 7.0);
		break;
	case 5:
		pc_buf_addf(b, "%.3e", (double)(pc_rand(r) % 100000) * 1e-9);
		break;
	default: {
		static const char *const lit[] = {"true", "false", "null"};
		pc_buf_adds(b, lit[pc_below(r, 3)]);
	}
	}
}

/* One JSON document: an object of a few keys, pretty (2 spaces, 4 spaces,
 * tabs) or minified. */
static void json_doc(pc_rng *r, pc_buf *b)
{
	static const char *const inds[] = {NULL, "  ", "    ", "\t"};
	const char *ind = inds[pc_below(r, NELEM(inds))];
	size_t n = 2 + pc_below(r, 6), i;

	pc_buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		if (i)
			pc_buf_addc(b, ',');
		json_indent(b, ind, 1);
		pc_buf_addf(b, "\"%s\":", json_words[pc_below(r, NELEM(json_words))]);
		if (ind)
			pc_buf_addc(b, ' ');
		json_value(r, b, ind, 1);
	}
	json_indent(b, ind, 0);
	pc_buf_adds(b, "}\n");
}

void pc_gen_json(pc_rng *r, pc_buf *b, size_t bytes)
{
	size_t end = b->len + bytes;

	while (b->len < end)
		json_doc(r, b);
}

/* ------------------------------------------------------------------ */
/* the parity corpus                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
	pc_corpus *c;
	pcre2_code *cn; /* \p{Cn}: unassigned in PCRE2's Unicode version */
	pcre2_match_data *md;
	int failed;
} builder;

static int has_cn(builder *bd, const char *s, size_t len)
{
	int rc = pcre2_match(bd->cn, (PCRE2_SPTR)s, len, 0, 0, bd->md, NULL);

	if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
		fprintf(stderr, "corpus: pcre2_match failed (%d)\n", rc);
		bd->failed = 1;
	}
	return rc >= 0;
}

/* Take the buffer as a text of category cat. A strict text (flags 0) with a
 * code point PCRE2 does not know is a corpus bug: reported, build fails. */
static void add_text(builder *bd, const char *cat, unsigned int flags, pc_buf *b)
{
	pc_corpus *c = bd->c;
	pc_text *t;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 512;
		pc_text *v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			oom();
		c->v = v;
		c->cap = cap;
	}
	pc_buf_add(b, "", 0); /* allocate for the empty text too */
	t = &c->v[c->n++];
	t->cat = cat;
	t->flags = flags;
	t->bytes = b->p;
	t->len = b->len;
	t->has_unassigned = has_cn(bd, b->p, b->len);
	if (t->has_unassigned && !(flags & PC_NEWER)) {
		char ex[120];
		pc_excerpt(b->p, b->len, ex, sizeof(ex));
		fprintf(stderr,
		        "corpus: text %zu (%s) has a code point PCRE2 (Unicode %s) does not "
		        "know: %s\n",
		        c->n - 1, cat, c->unicode_version, ex);
		bd->failed = 1;
	}
	b->p = NULL;
	b->len = b->cap = 0;
}

static void add_str(builder *bd, const char *cat, const char *s)
{
	pc_buf b = {0};

	pc_buf_adds(&b, s);
	add_text(bd, cat, 0, &b);
}

static void add_prose(builder *bd, pc_rng *r)
{
	size_t i, j;
	pc_buf b = {0};

	for (i = 0; i < NELEM(languages); i++) {
		const language *l = &languages[i];
		size_t n = sentence_count(l);
		for (j = 0; j < n; j++)
			add_str(bd, l->cat, l->s[j]);
		/* the whole paragraph, then shuffles with mixed joins */
		for (j = 0; j < n; j++) {
			if (j)
				pc_buf_addc(&b, ' ');
			pc_buf_adds(&b, l->s[j]);
		}
		add_text(bd, l->cat, 0, &b);
		for (j = 0; j < 2; j++) {
			prose_shuffle(r, &b, l, 3 + pc_below(r, 5));
			add_text(bd, l->cat, 0, &b);
		}
	}
	/* paragraphs mixing scripts sentence by sentence and inside a line */
	for (i = 0; i < 12; i++) {
		size_t k = 2 + pc_below(r, 6);
		for (j = 0; j < k; j++) {
			const language *l = &languages[pc_below(r, NELEM(languages))];
			if (j)
				pc_buf_adds(&b, joins[pc_below(r, NELEM(joins))]);
			pc_buf_adds(&b, l->s[pc_below(r, sentence_count(l))]);
		}
		add_text(bd, "prose-mixed", 0, &b);
	}
	add_str(bd, "prose-mixed",
	        "The word 東京 means “eastern capital”; in Russian it is Токио, in "
	        "Arabic طوكيو, in Hindi टोक्यो, in Greek Τόκιο, in Hebrew טוקיו.");
	add_str(bd, "prose-mixed", "ABCабвαβγאבגابت一二三กขค");
}

static void add_code(builder *bd, pc_rng *r)
{
	size_t i;
	pc_buf b = {0};

	for (i = 0; i < NELEM(code_samples); i++) {
		const char *s = code_samples[i], *p;
		add_str(bd, "code", s);
		/* the same with \r\n line ends */
		for (p = s; *p; p++) {
			if (*p == '\n')
				pc_buf_addc(&b, '\r');
			pc_buf_addc(&b, *p);
		}
		add_text(bd, "code-crlf", 0, &b);
		/* tabs to 4 spaces, 8 spaces */
		for (p = s; *p; p++) {
			if (*p == '\t')
				pc_buf_adds(&b, i % 2 ? "    " : "        ");
			else
				pc_buf_addc(&b, *p);
		}
		add_text(bd, "code", 0, &b);
	}
	for (i = 0; i < 4; i++) {
		pc_gen_code(r, &b, 2000);
		add_text(bd, "code", 0, &b);
	}
}

static void add_json(builder *bd, pc_rng *r)
{
	size_t i;
	pc_buf b = {0};

	for (i = 0; i < 24; i++) {
		json_doc(r, &b);
		add_text(bd, "json", 0, &b);
	}
	add_str(bd, "json", "{}");
	add_str(bd, "json", "[]");
	add_str(bd, "json", "{\"a\":[1,2,3,{\"b\":null}],\"c\":\"\\u0041\\n\",\"d\":-0.5e-10}");
	add_str(bd, "json", "[\n\t{\n\t\t\"x\": 1\n\t},\r\n\t{\n\t\t\"x\": 2\n\t}\n]\n");
}

static void add_whitespace(builder *bd)
{
	/* clang-format off */
	static const char *const mixes[] = {
		"\r\n", "\r", "\n", "\n\r", "\r\n\r\n", "\r\r\n\n", "a\r\nb\rc\nd", " \r\n ",
		"\t\r\n\t", "x \n", "x  \n  y", "x\n\n\n\ny", " \n \n \n", "\r \r \r ",
		"line1\r\nline2\nline3\rline4", "   \n", "\n   ", "a \t b", "\t \t \t",
		"end.   ", "  lead", "a\u00a0\n b", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
	};
	/* clang-format on */
	size_t i, n;
	pc_buf b = {0};

	for (n = 1; n <= 40; n += (n < 12 ? 1 : 4)) {
		for (i = 0; i < n; i++)
			pc_buf_addc(&b, ' ');
		add_text(bd, "spaces", 0, &b);
		pc_buf_adds(&b, "word");
		for (i = 0; i < n; i++)
			pc_buf_addc(&b, ' ');
		pc_buf_adds(&b, "word");
		for (i = 0; i < n; i++)
			pc_buf_addc(&b, ' ');
		add_text(bd, "spaces", 0, &b);
	}
	for (n = 1; n <= 12; n++) {
		for (i = 0; i < n; i++)
			pc_buf_addc(&b, '\t');
		pc_buf_adds(&b, n % 2 ? "if x:" : "");
		for (i = 0; i < n; i++)
			pc_buf_adds(&b, i % 3 == 2 ? " \t" : "\t");
		add_text(bd, "tabs", 0, &b);
	}
	for (i = 0; i < NELEM(mixes); i++)
		add_str(bd, "newlines", mixes[i]);
}

static void add_digits(builder *bd, pc_rng *r)
{
	/* clang-format off */
	static const char *const ctx[][2] = {
		{"", ""}, {"x", "y"}, {" ", " "}, {"$", ".99"}, {"v", "th"}, {"(", ")\n"},
		{"abc", "def"}, {"-", "%"},
	};
	static const char *const other[] = {
		"٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹", "०१२३४५६७८९", "০১২৩৪৫৬৭৮৯", "๐๑๒๓๔๕๖๗๘๙",
		"０１２３４５６７８９", "²³¹⁴⁵₀₁₂", "ⅠⅡⅢⅣⅤⅫⅿ", "½¾⅓⅞", "①②③④⑤⑩⑳", "𝟎𝟏𝟐𝟑𝟘𝟙𝟚",
		"〇一二三", "x²+y²=z²", "1st 2nd 3rd 4th", "+1 (555) 123-4567", "192.168.0.1:8080",
		"2024-01-15T12:34:56.789Z", "3.14159265358979", "1,234,567.89", "1e-10 6.02e23 0x1F",
	};
	/* clang-format on */
	size_t len, i, k;
	pc_buf b = {0};

	for (len = 1; len <= 20; len++) {
		for (k = 0; k < NELEM(ctx); k++) {
			pc_buf_adds(&b, ctx[k][0]);
			for (i = 0; i < len; i++) {
				char d =
				    k == 0 ? (char)('1' + i % 9) : (char)('0' + pc_below(r, 10));
				pc_buf_addc(&b, d);
			}
			pc_buf_adds(&b, ctx[k][1]);
			add_text(bd, "digits", 0, &b);
		}
	}
	for (i = 0; i < NELEM(other); i++)
		add_str(bd, "digits-unicode", other[i]);
}

static void add_small(builder *bd)
{
	/* clang-format off */
	static const char *const contractions[] = {
		"'s", "'S", "'ll", "'LL", "'Ll", "'lL", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'m",
		"'M", "'d", "'D", "'t", "'T",
		"It'S HE'LL we'RE they'VE I'M she'D don'T",
		"IT'S he'll WE'RE THEY'VE i'm SHE'D DON'T won't can't shan't",
		"'s'll're've'm'd", "''s''", "x'sy", "'st 'llama 'red 'vet 'dog",
		"rock 'n' roll", "O'Neill's O'Brien'S", "the 90's 'S 'S 'S",
		"'ſ 'ſt don'ſ", "dog's dogs' dogs's", " 's  'S\n'S\t'll",
		"l'homme, d'accord, aujourd'hui", "Ꮳ's ǅ's Σ'S ß'S",
		"’s ’ll ‘re’ (typographic apostrophes)",
	};
	static const char *const punct[] = {
		"!!!???", "...", "…", "?!", "‽", "--->", "<=>", "::", ";;", "/**/", "\"'`",
		"«»„“”‚‘’", "【】《》〈〉「」『』", "——–-", "!!!\n\n", ".\r\n", "?/\n", " !/\n/\r",
		"a, b; c: d. e! f? g", "(((nested)))", "[[{{<<>>}}]]", "@#$%^&*_+=|\\~",
		"¡¿", "。、！？：；", "٪؛،؟", "।॥", "«¿¡!?»", "a.b.c", "...and...", "#!/bin/sh",
		"\"quoted\" 'single' `back`", " . . . ", "§¶†‡•※", "¯\\_(ツ)_/¯",
	};
	static const char *const emoji[] = {
		"😀😃😄😁", "👍 👍🏻 👍🏼 👍🏽 👍🏾 👍🏿", "👨‍👩‍👧‍👦 family", "👩🏽‍💻 coding",
		"🏳️‍🌈 🏴‍☠️", "🇺🇸🇬🇧🇯🇵🇩🇪", "1️⃣2️⃣#️⃣*️⃣", "❤️ ♥ ❤", "🤷🏾‍♀️🤦🏻‍♂️",
		"I ❤️ NY 🗽!", "text😀text", " 🙂\n", "🧑‍🤝‍🧑🫂", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
		"☺︎☺️", "👁‍🗨", "🦀🐍🐹", "⭐️⭐️⭐️⭐️⭐️ 5/5",
	};
	static const char *const marks[] = {
		"e\u0301 é", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗", "\u0301\u0302\u0303 lead", " \u0301", "1\u0301 2\u20e3",
		"a\u0308\u0304b", "x\u0338y", "ᄀ\u1161\u11a8 ᄒ\u1175", "क्षत्र ज्ञ",
		"بِسْمِ اللَّهِ", "שָׁלוֹם", "ช้ำ", "ABC\u0332\u0332", "\u20dd\u20dd",
		"n\u0303o\u0303", "Ǘ ǘ U\u0308\u0301", "'\u0301s", "A\u030a\u0301ngstr\u00f6m",
	};
	static const char *const specials[] = {
		"<|endoftext|>", "<|endofprompt|>", "<|fim_prefix|>", "<|fim_middle|>",
		"<|fim_suffix|>", "Before <|endoftext|> after <|endofprompt|><|fim_prefix|>",
		"<|endoftext|><|endoftext|>", "<|im_start|>system\nYou are helpful.<|im_end|>",
		"<|endoftext", "|endoftext|>", "< |endoftext| >",
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < NELEM(contractions); i++)
		add_str(bd, "contractions", contractions[i]);
	for (i = 0; i < NELEM(punct); i++)
		add_str(bd, "punctuation", punct[i]);
	for (i = 0; i < NELEM(emoji); i++)
		add_str(bd, "emoji", emoji[i]);
	for (i = 0; i < NELEM(marks); i++)
		add_str(bd, "combining", marks[i]);
	for (i = 0; i < NELEM(specials); i++)
		add_str(bd, "special-tokens", specials[i]);
	add_str(bd, "empty", "");
}

/*
 * U+0000 is a character: the reference stores texts holding it and tiktoken
 * counts the NUL byte (its own token, or merged: "\0\0\0" is two in
 * o200k_base). Lengths are given, since the texts hold NUL bytes.
 */
static void add_nul(builder *bd)
{
	/* clang-format off */
	static const struct {
		const char *s;
		size_t len;
	} texts[] = {
#define NUL_TEXT(lit) {lit, sizeof(lit) - 1}
		NUL_TEXT("\0"), NUL_TEXT("\0\0\0"), NUL_TEXT("a\0b"), NUL_TEXT("hello\0world"),
		NUL_TEXT(" \0 \0\n\0\t"), NUL_TEXT("123\0" "456 \0" "7"),
		NUL_TEXT("it's\0's \0'll"), NUL_TEXT("\xc3\xa9\0\xe4\xb8\xad\0\xf0\x9f\x98\x80\0"),
		NUL_TEXT("a\0b\0\0c 123\0 \0\n\0"), NUL_TEXT("<|endoftext|>\0<|endoftext|>"),
#undef NUL_TEXT
	};
	/* clang-format on */
	size_t i;

	for (i = 0; i < NELEM(texts); i++) {
		pc_buf b = {0};

		pc_buf_add(&b, texts[i].s, texts[i].len);
		add_text(bd, "nul", 0, &b);
	}
}

/*
 * \s and \S of the patterns mean Unicode White_Space exactly. Each of these
 * code points goes into a few contexts: the White_Space ones, and near
 * misses that are not White_Space (U+180E, which PCRE2's \s matches; the
 * zero-width and format characters; the information separators that
 * Python's isspace() takes for space).
 */
static void add_white_space(builder *bd)
{
	/* clang-format off */
	static const uint32_t cps[] = {
		0x09,   0x0a,   0x0b,   0x0c,   0x0d,   0x20,   0x85,   0xa0,   0x1680, 0x2000,
		0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
		0x2028, 0x2029, 0x202f, 0x205f, 0x3000, /* not White_Space: */
		0x180e, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x1c,   0x1d,   0x1e,   0x1f,
		0xad,   0x034f, 0x115f, 0x3164, 0x2800,
	};
	/* clang-format on */
	size_t i, j;
	pc_buf b = {0};

	for (i = 0; i < NELEM(cps); i++) {
		uint32_t c = cps[i];
		/* a{c}b {c}{c}c\n{c} d{c}  {c}!{c}9 */
		pc_buf_addc(&b, 'a');
		pc_buf_addcp(&b, c);
		pc_buf_adds(&b, "b ");
		pc_buf_addcp(&b, c);
		pc_buf_addcp(&b, c);
		pc_buf_adds(&b, "c\n");
		pc_buf_addcp(&b, c);
		pc_buf_adds(&b, " d");
		pc_buf_addcp(&b, c);
		pc_buf_adds(&b, "  ");
		pc_buf_addcp(&b, c);
		pc_buf_addc(&b, '!');
		pc_buf_addcp(&b, c);
		pc_buf_addc(&b, '9');
		add_text(bd, "white-space", 0, &b);
		/* the code point alone, leading, trailing */
		pc_buf_addcp(&b, c);
		add_text(bd, "white-space", 0, &b);
		pc_buf_addcp(&b, c);
		pc_buf_adds(&b, "Word");
		pc_buf_addcp(&b, c);
		add_text(bd, "white-space", 0, &b);
	}
	/* all of them in a row, and interleaved with spaces */
	for (i = 0; i < NELEM(cps); i++)
		pc_buf_addcp(&b, cps[i]);
	add_text(bd, "white-space", 0, &b);
	for (j = 0; j < 3; j++) {
		for (i = 0; i < NELEM(cps); i++) {
			pc_buf_adds(&b, j == 0 ? " " : j == 1 ? "x" : "\n");
			pc_buf_addcp(&b, cps[i]);
		}
		add_text(bd, "white-space", 0, &b);
	}
}

static void add_long(builder *bd, pc_rng *r)
{
	size_t i;
	pc_buf b = {0};

	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, 'a');
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, (char)('a' + pc_below(r, 26)));
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, (char)((pc_below(r, 2) ? 'a' : 'A') + pc_below(r, 26)));
	add_text(bd, "long-word", 0, &b);
	pc_buf_addc(&b, ' ');
	for (i = 0; i < 10000; i++)
		pc_buf_adds(&b, i % 2 ? "ab" : "ba");
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addcp(&b, 0x4e00 + (uint32_t)pc_below(r, 0x5000));
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, (char)('0' + pc_below(r, 10)));
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, ' ');
	pc_buf_addc(&b, 'x');
	add_text(bd, "long-word", 0, &b);
	for (i = 0; i < 10000; i++)
		pc_buf_addc(&b, "!?.,;:-"[pc_below(r, 7)]);
	add_text(bd, "long-word", 0, &b);
}

/*
 * Random texts: code points from many blocks (letters of all cases and
 * scripts, marks, digits of many scripts, punctuation, symbols, emoji and
 * their modifiers, white space and its near misses, controls), weighted;
 * unassigned ones (for PCRE2) are redrawn.
 */
/* clang-format off */
static const struct {
	uint32_t lo, hi;
	unsigned int w;
} pool[] = {
	{0x20, 0x7e, 40},       {0x09, 0x0d, 6},        {0x00, 0x1f, 1},        {0x7f, 0x9f, 1},
	{0xa0, 0xff, 6},        {0x100, 0x24f, 6},      {0x250, 0x2af, 2},      {0x2b0, 0x2ff, 2},
	{0x300, 0x36f, 4},      {0x370, 0x3ff, 4},      {0x400, 0x52f, 5},      {0x530, 0x58f, 2},
	{0x590, 0x5ff, 3},      {0x600, 0x6ff, 4},      {0x700, 0x74f, 1},      {0x780, 0x7bf, 1},
	{0x7c0, 0x7ff, 1},      {0x900, 0x97f, 4},      {0x980, 0x9ff, 2},      {0xb80, 0xbff, 2},
	{0xe00, 0xe7f, 3},      {0xe80, 0xeff, 1},      {0xf00, 0xfff, 1},      {0x1000, 0x109f, 1},
	{0x10a0, 0x10ff, 2},    {0x1100, 0x11ff, 2},    {0x1200, 0x137f, 1},    {0x13a0, 0x13ff, 2},
	{0x1680, 0x169f, 1},    {0x1800, 0x18af, 1},    {0x1e00, 0x1eff, 3},    {0x1f00, 0x1fff, 3},
	{0x2000, 0x206f, 4},    {0x2070, 0x209f, 1},    {0x20a0, 0x20c0, 1},    {0x20d0, 0x20ff, 1},
	{0x2100, 0x218f, 2},    {0x2190, 0x22ff, 1},    {0x2460, 0x24ff, 1},    {0x2500, 0x257f, 1},
	{0x2600, 0x27bf, 2},    {0x2c00, 0x2c7f, 1},    {0x2d00, 0x2d2f, 1},    {0x3000, 0x303f, 3},
	{0x3040, 0x30ff, 4},    {0x3130, 0x318f, 1},    {0x4e00, 0x9fff, 6},    {0xa640, 0xa69f, 1},
	{0xa720, 0xa7ff, 1},    {0xab70, 0xabbf, 1},    {0xac00, 0xd7a3, 4},    {0xe000, 0xe0ff, 1},
	{0xf900, 0xfaff, 1},    {0xfb00, 0xfb4f, 1},    {0xfb50, 0xfdff, 1},    {0xfe00, 0xfe0f, 2},
	{0xfe30, 0xfe6f, 1},    {0xff00, 0xffef, 3},    {0xfff9, 0xfffd, 1},    {0x10000, 0x1007f, 1},
	{0x10400, 0x1044f, 1},  {0x10570, 0x105bf, 1},  {0x1d400, 0x1d7ff, 2},  {0x1e900, 0x1e95f, 1},
	{0x1f1e6, 0x1f1ff, 2},  {0x1f300, 0x1f64f, 4},  {0x1f3fb, 0x1f3ff, 3},  {0x1f680, 0x1f6ff, 1},
	{0x1f900, 0x1f9ff, 2},  {0x20000, 0x2a6df, 1},  {0xe0020, 0xe007f, 1},  {0xe0100, 0xe01ef, 1},
	{0x200b, 0x200d, 3},    {0x180e, 0x180e, 1},    {0xfeff, 0xfeff, 1},    {0x2028, 0x2029, 1},
	{0x27, 0x27, 6},        {0x30, 0x39, 8},        {0x20, 0x20, 20},       {0x0a, 0x0a, 6},
};
/* clang-format on */

static uint32_t random_cp(builder *bd, pc_rng *r)
{
	static unsigned int total;
	unsigned char u[4];
	size_t i;

	if (!total)
		for (i = 0; i < NELEM(pool); i++)
			total += pool[i].w;
	for (;;) {
		unsigned int x = (unsigned int)pc_below(r, total);
		uint32_t cp;
		for (i = 0; x >= pool[i].w; i++)
			x -= pool[i].w;
		cp = pool[i].lo + (uint32_t)pc_below(r, pool[i].hi - pool[i].lo + 1);
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		if (!has_cn(bd, (const char *)u, utf8_encode(cp, u)))
			return cp;
	}
}

static void add_random(builder *bd, pc_rng *r, size_t n_random)
{
	/* clang-format off */
	static const char *const words[] = {
		"hello", "World", "THE", "don't", "I'M", "x'S", "naïve", "Ünïcödé", "東京", "тест",
		"κόσμος", "שלום", "مرحبا", "नमस्ते", "สวัสดี", "123", "4567", "3.14", "😀", "👍🏽",
		"\u00a0", "\u3000", "\u180e", "\r\n", "\t", "  ", "!!", "/", "<|endoftext|>", "'ll",
	};
	/* clang-format on */
	size_t i, j, n;
	pc_buf b = {0};

	/* code point soup: short texts, then longer ones */
	for (i = 0; i < n_random; i++) {
		n = 1 + pc_below(r, i % 3 ? 40 : 400);
		for (j = 0; j < n; j++)
			pc_buf_addcp(&b, random_cp(bd, r));
		add_text(bd, "random", 0, &b);
	}
	/* words and fragments glued with random code points */
	for (i = 0; i < n_random / 2; i++) {
		n = 1 + pc_below(r, 30);
		for (j = 0; j < n; j++) {
			if (pc_below(r, 3) == 0)
				pc_buf_addcp(&b, random_cp(bd, r));
			else
				pc_buf_adds(&b, words[pc_below(r, NELEM(words))]);
			if (pc_below(r, 2))
				pc_buf_addc(&b, ' ');
		}
		add_text(bd, "random-words", 0, &b);
	}
}

/*
 * Every code point PCRE2 knows (every 61st in the big uniform blocks: CJK
 * ideographs, Hangul syllables, Tangut, private use), each in a few
 * contexts that make its class (letter of which case, mark, digit, other,
 * space) decide where pieces end: "{c}a{c}A {c}'s1{c}.{c}\n", 96 code points
 * a text. A code point that PCRE2 and tiktoken's regex class differently
 * shows up here as a count difference.
 */
static int sparse(uint32_t cp)
{
	return (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) ||
	       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xe000 && cp <= 0xf8ff) ||
	       (cp >= 0x17000 && cp <= 0x18cff) || (cp >= 0x20000 && cp <= 0x323af) ||
	       cp >= 0xf0000;
}

static void add_sweep(builder *bd)
{
	unsigned char u[4];
	uint32_t cp;
	size_t k = 0, n;
	pc_buf b = {0};

	for (cp = 0; cp <= 0x10ffff; cp++) {
		if ((cp >= 0xd800 && cp <= 0xdfff) || (sparse(cp) && cp % 61 != 0))
			continue;
		n = utf8_encode(cp, u);
		if (has_cn(bd, (const char *)u, n))
			continue;
		pc_buf_add(&b, u, n);
		pc_buf_addc(&b, 'a');
		pc_buf_add(&b, u, n);
		pc_buf_adds(&b, "A ");
		pc_buf_add(&b, u, n);
		pc_buf_adds(&b, "'s1");
		pc_buf_add(&b, u, n);
		pc_buf_addc(&b, '.');
		pc_buf_add(&b, u, n);
		pc_buf_addc(&b, '\n');
		if (++k % 96 == 0)
			add_text(bd, "sweep", 0, &b);
	}
	if (b.len)
		add_text(bd, "sweep", 0, &b);
}

/*
 * Characters of Unicode 15.0, 15.1 and 16.0 (after PCRE2 10.42's Unicode
 * 14): letters, marks and digits that tiktoken's regex tables may class as
 * \p{L}, \p{M}, \p{N} where PCRE2 sees unassigned code points. Reported, not
 * failed, while PCRE2 does not know them (see README.md).
 */
static void add_newer(builder *bd)
{
	/* clang-format off */
	static const char *const newer[] = {
		"中\U00031350\U00031351文",          /* CJK Ext H (15.0), Lo */
		"a \U00031350 b",                     /* the same after a space */
		"中\U0002EBF0\U0002EBF1文",          /* CJK Ext I (15.1), Lo */
		"\U00011F04\U00011F05\U00011F06",    /* Kawi letters (15.0) */
		"x \U00011F50\U00011F51\U00011F52\U00011F53", /* Kawi digits (15.0), Nd */
		" \U0001E4F0\U0001E4F1\U0001E4F2\U0001E4F3\U0001E4F4", /* Nag Mundari digits */
		"\U0001E4D0\U0001E4D1 \U0001E4D2",   /* Nag Mundari letters (15.0) */
		"ಕ\u0cf3ಖ",                           /* Kannada U+0CF3 (15.0), Mc */
		"hello\U0001E030world",               /* Cyrillic Ext-D modifier (15.0), Lm */
		"\U00010D50\U00010D51 \U00010D70\U00010D71", /* Garay (16.0), Lu / Ll */
		" \U00010D40\U00010D41\U00010D42\U00010D43", /* Garay digits (16.0), Nd */
		"\U000105C0\U000105C1's",             /* Todhri (16.0), Lo */
		"x \U000116D0\U000116D1\U000116D2\U000116D3", /* Myanmar Ext-C digits (16.0) */
	};
	/* clang-format on */
	size_t i;
	pc_buf b = {0};

	for (i = 0; i < NELEM(newer); i++) {
		pc_buf_adds(&b, newer[i]);
		add_text(bd, "newer-unicode", PC_NEWER, &b);
	}
}

int pc_build(pc_corpus *c, uint64_t seed, size_t n_random)
{
	builder bd = {c, NULL, NULL, 0};
	pc_rng r = {seed};
	int err;
	PCRE2_SIZE off;

	memset(c, 0, sizeof(*c));
	pcre2_config(PCRE2_CONFIG_UNICODE_VERSION, c->unicode_version);
	bd.cn = pcre2_compile((PCRE2_SPTR) "\\p{Cn}", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
	                      &err, &off, NULL);
	if (!bd.cn || !(bd.md = pcre2_match_data_create_from_pattern(bd.cn, NULL))) {
		fputs("corpus: cannot compile \\p{Cn}\n", stderr);
		pcre2_code_free(bd.cn);
		return -1;
	}
	add_prose(&bd, &r);
	add_code(&bd, &r);
	add_json(&bd, &r);
	add_whitespace(&bd);
	add_digits(&bd, &r);
	add_small(&bd);
	add_nul(&bd);
	add_white_space(&bd);
	add_long(&bd, &r);
	add_random(&bd, &r, n_random);
	add_sweep(&bd);
	add_newer(&bd);
	pcre2_match_data_free(bd.md);
	pcre2_code_free(bd.cn);
	if (bd.failed) {
		pc_free(c);
		return -1;
	}
	return 0;
}

void pc_free(pc_corpus *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].bytes);
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

static int put_u32(FILE *f, uint32_t v)
{
	unsigned char u[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 24)};

	return fwrite(u, 1, 4, f) == 4 ? 0 : -1;
}

int pc_write(const pc_corpus *c, const char *path)
{
	FILE *f = fopen(path, "wb");
	size_t i;
	int rc = 0;

	if (!f)
		return -1;
	if (fwrite("TRPC", 1, 4, f) != 4 || put_u32(f, (uint32_t)c->n) < 0)
		rc = -1;
	for (i = 0; i < c->n && rc == 0; i++) {
		const pc_text *t = &c->v[i];
		unsigned char hdr[2] = {(unsigned char)t->flags, (unsigned char)strlen(t->cat)};
		if (fwrite(hdr, 1, 2, f) != 2 || fwrite(t->cat, 1, hdr[1], f) != hdr[1] ||
		    put_u32(f, (uint32_t)t->len) < 0 || fwrite(t->bytes, 1, t->len, f) != t->len)
			rc = -1;
	}
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

void pc_excerpt(const char *s, size_t len, char *out, size_t max)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t n = 0;

	while (p < end) {
		char tmp[16];
		uint32_t cp;
		size_t k;
		if (*p < 0x80) {
			cp = *p;
			k = 1;
		} else if (*p < 0xe0) {
			cp = (uint32_t)(*p & 0x1f) << 6 | (p[1] & 0x3f);
			k = 2;
		} else if (*p < 0xf0) {
			cp = (uint32_t)(*p & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 |
			     (p[2] & 0x3f);
			k = 3;
		} else {
			cp = (uint32_t)(*p & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 |
			     (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
			k = 4;
		}
		if (k > (size_t)(end - p))
			break;
		if (cp == '\n')
			snprintf(tmp, sizeof(tmp), "\\n");
		else if (cp == '\r')
			snprintf(tmp, sizeof(tmp), "\\r");
		else if (cp == '\t')
			snprintf(tmp, sizeof(tmp), "\\t");
		else if (cp == '\\')
			snprintf(tmp, sizeof(tmp), "\\\\");
		else if (cp >= 0x20 && cp < 0x7f)
			snprintf(tmp, sizeof(tmp), "%c", (char)cp);
		else
			snprintf(tmp, sizeof(tmp), "\\u{%x}", (unsigned int)cp);
		if (n + strlen(tmp) + 4 > max) {
			memcpy(out + n, "...", 4);
			return;
		}
		memcpy(out + n, tmp, strlen(tmp));
		n += strlen(tmp);
		p += k;
	}
	out[n] = '\0';
}
