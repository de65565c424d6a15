/*
 * httputil/date.c - HTTP dates (RFC 9110 5.6.7): IMF-fixdate out, and the
 * three forms recipients must accept in.
 *
 * The calendar arithmetic is done here, on 64-bit integers (the
 * days-from-civil algorithms of Howard Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms"), instead of through gmtime_r() and
 * timegm(): no locale, no time zone, no 32-bit time_t, the same answer on
 * every platform, and timegm() is not even standard C.
 *
 * This file must never read past the bytes it is given or overflow on any
 * input.
 */
#include "httputil_internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define MIN_T (-62167219200LL) /* 0000-01-01 00:00:00 UTC */
#define MAX_T 253402300799LL   /* 9999-12-31 23:59:59 UTC */

static const char days[] = "SunMonTueWedThuFriSat";
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
static const char *const long_days[7] = {"Sunday",    "Monday",   "Tuesday",
                                         "Wednesday", "Thursday", "Friday",
                                         "Saturday"};

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Days since 1970-01-01 of y-m-d (m 1..12) in the proleptic Gregorian
 * calendar. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static void two(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
}

int eddy_http_date_format(int64_t t, char buf[EDDY_HTTP_DATE_SIZE])
{
    int64_t day, secs, y;
    unsigned m, d, wday;

    if (t < MIN_T || t > MAX_T)
        return -ERANGE;
    day = floor_div(t, 86400);
    secs = t - day * 86400;
    civil_from_days(day, &y, &m, &d);
    wday = (unsigned)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
    memcpy(buf, days + 3 * wday, 3);
    memcpy(buf + 3, ", ", 2);
    two(buf + 5, d);
    buf[7] = ' ';
    memcpy(buf + 8, months + 3 * (m - 1), 3);
    buf[11] = ' ';
    two(buf + 12, (unsigned)(y / 100));
    two(buf + 14, (unsigned)(y % 100));
    buf[16] = ' ';
    two(buf + 17, (unsigned)(secs / 3600));
    buf[19] = ':';
    two(buf + 20, (unsigned)(secs / 60 % 60));
    buf[22] = ':';
    two(buf + 23, (unsigned)(secs % 60));
    memcpy(buf + 25, " GMT", 5); /* and the NUL */
    return 0;
}

/* --- parsing ---------------------------------------------------------- */

/* The n (<= 4) digits at p, or -1. */
static int digits(const char *p, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* The month (1..12) named by the three bytes at p, or -1. */
static int month(const char *p)
{
    for (int i = 0; i < 12; i++)
        if (memcmp(p, months + 3 * i, 3) == 0)
            return i + 1;
    return -1;
}

static int short_day(const char *p)
{
    for (int i = 0; i < 7; i++)
        if (memcmp(p, days + 3 * i, 3) == 0)
            return 1;
    return 0;
}

/* The length of the long day name that p[0, n) starts with and that a
 * ',' follows, or 0. */
static size_t long_day(const char *p, size_t n)
{
    for (int i = 0; i < 7; i++) {
        size_t k = strlen(long_days[i]);

        if (n > k && memcmp(p, long_days[i], k) == 0 && p[k] == ',')
            return k;
    }
    return 0;
}

struct tm6 {
    int64_t year;
    int mon, mday, hour, min, sec;
};

/* "HH:MM:SS" at p. */
static int time_of_day(const char *p, struct tm6 *tm)
{
    if (p[2] != ':' || p[5] != ':')
        return 0;
    tm->hour = digits(p, 2);
    tm->min = digits(p + 3, 2);
    tm->sec = digits(p + 6, 2);
    return tm->hour >= 0 && tm->min >= 0 && tm->sec >= 0;
}

/* Sun, 06 Nov 1994 08:49:37 GMT */
static int imf_fixdate(const char *p, struct tm6 *tm)
{
    if (!short_day(p) || memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' ||
        p[11] != ' ' || p[16] != ' ' || memcmp(p + 25, " GMT", 4) != 0)
        return 0;
    tm->mday = digits(p + 5, 2);
    tm->mon = month(p + 8);
    tm->year = digits(p + 12, 4);
    return tm->mday >= 0 && tm->year >= 0 && time_of_day(p + 17, tm);
}

/* Sun Nov  6 08:49:37 1994 */
static int asctime_date(const char *p, struct tm6 *tm)
{
    if (!short_day(p) || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' ||
        p[19] != ' ')
        return 0;
    tm->mon = month(p + 4);
    tm->mday = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);
    tm->year = digits(p + 20, 4);
    return tm->mday >= 0 && tm->year >= 0 && time_of_day(p + 11, tm);
}

/* Sunday, 06-Nov-94 08:49:37 GMT: after the day name and its ',', the
 * rest is 24 bytes. */
static int rfc850_date(const char *p, size_t len, int64_t now, struct tm6 *tm)
{
    size_t k = long_day(p, len);
    int64_t cur, yy;
    unsigned m, d;

    if (k == 0 || len != k + 24)
        return 0;
    p += k + 1;
    if (p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' ||
        memcmp(p + 19, " GMT", 4) != 0)
        return 0;
    tm->mday = digits(p + 1, 2);
    tm->mon = month(p + 4);
    if ((yy = digits(p + 8, 2)) < 0 || tm->mday < 0 || !time_of_day(p + 11, tm))
        return 0;
    /* The year with these last two digits within 50 years of now: more
     * than 50 years ahead is the century before (RFC 9110 5.6.7). */
    civil_from_days(floor_div(now, 86400), &cur, &m, &d);
    tm->year = floor_div(cur, 100) * 100 + yy;
    if (tm->year > cur + 50)
        tm->year -= 100;
    else if (tm->year <= cur - 50)
        tm->year += 100;
    return 1;
}

static int leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int eddy__http_date_parse_at(const char *p, size_t len, int64_t now, int64_t *t)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30,
                                            31, 31, 30, 31, 30, 31};
    struct tm6 tm;
    int ok;

    if (p == NULL || t == NULL)
        return -EINVAL;
    if (now < MIN_T || now > MAX_T)
        now = 0; /* a clock that far off gets no say in a century */
    if (len == 29 && p[3] == ',')
        ok = imf_fixdate(p, &tm);
    else if (len == 24 && p[3] == ' ')
        ok = asctime_date(p, &tm);
    else
        ok = rfc850_date(p, len, now, &tm);
    if (!ok || tm.mon < 1 || tm.mday < 1 || tm.mday > mdays[tm.mon - 1] ||
        (tm.mon == 2 && tm.mday == 29 && !leap(tm.year)) || tm.hour > 23 ||
        tm.min > 59 || tm.sec > 60)
        return -EINVAL;
    *t = days_from_civil(tm.year, (unsigned)tm.mon, (unsigned)tm.mday) * 86400 +
         tm.hour * 3600 + tm.min * 60 + tm.sec;
    return 0;
}

int eddy_http_date_parse(const char *p, size_t len, int64_t *t)
{
    return eddy__http_date_parse_at(p, len, (int64_t)time(NULL), t);
}
