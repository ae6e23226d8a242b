#!/bin/sh
# Menagerie engine: apktool. Decodes <MNT>/<INPUT> (an APK) into <MNT>/result/
# and writes a few lines of <MNT>/summary: package, version, SDK levels and the
# permissions the app asks for (uses-permission).
#
# Runs as uid 1000, read-only root, no network, /tmp a small tmpfs. Nothing
# outside /tmp and <MNT> is written: the framework directory apktool wants is
# a symlink to Debian's framework-res.apk, set up under /tmp.
set -eu

MNT="${MNT:-/var/data}"
INPUT="${INPUT:-sample.apk}"
in="$MNT/$INPUT"
out="$MNT/result"
summary="$MNT/summary"

[ -f "$in" ] || { echo "apktool engine: no input file $in" >&2; exit 2; }

export HOME=/tmp
fw="$(mktemp -d /tmp/apktool-framework.XXXXXX)"
trap 'rm -rf "$fw"' EXIT
if [ -f /usr/share/android-framework-res/framework-res.apk ]; then
  ln -s /usr/share/android-framework-res/framework-res.apk "$fw/1.apk"
fi

# JVM sized for a 1 GB container memory limit: heap up to 60% of the limit
# (the JVM reads the cgroup limit), the rest for metaspace, code cache, thread
# stacks and the /tmp tmpfs, which is charged to the same cgroup. Serial GC and
# C1 only: less memory and faster start on a short, 1–2 CPU run. No perf data
# files in /tmp.
JAVA_OPTS="${JAVA_OPTS:--XX:MaxRAMPercentage=60 -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss4m -Djava.io.tmpdir=/tmp -Dfile.encoding=UTF-8 -Djava.awt.headless=true}"

# shellcheck disable=SC2086 # JAVA_OPTS is a list of words
java $JAVA_OPTS -cp '/usr/share/apktool/*' brut.apktool.Main \
  d --force --frame-path "$fw" --output "$out" "$in" >&2

manifest="$out/AndroidManifest.xml"
yml="$out/apktool.yml"
[ -f "$manifest" ] || { echo "apktool engine: no AndroidManifest.xml in the decoded tree" >&2; exit 3; }

# First value of an attribute in the <manifest> element, then from apktool.yml.
pkg="$(tr '\n' ' ' <"$manifest" | sed -n 's/.*<manifest[^>]* package="\([^"]*\)".*/\1/p')"
vname="$(sed -n "s/^[[:space:]]*versionName:[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$yml" 2>/dev/null | head -n1)"
vcode="$(sed -n "s/^[[:space:]]*versionCode:[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$yml" 2>/dev/null | head -n1)"
minsdk="$(sed -n "s/^[[:space:]]*minSdkVersion:[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$yml" 2>/dev/null | head -n1)"
targetsdk="$(sed -n "s/^[[:space:]]*targetSdkVersion:[[:space:]]*'\{0,1\}\([^']*\)'\{0,1\}[[:space:]]*$/\1/p" "$yml" 2>/dev/null | head -n1)"
[ -n "$vname" ] || vname="$(tr '\n' ' ' <"$manifest" | sed -n 's/.*<manifest[^>]* android:versionName="\([^"]*\)".*/\1/p')"
[ -n "$vcode" ] || vcode="$(tr '\n' ' ' <"$manifest" | sed -n 's/.*<manifest[^>]* android:versionCode="\([^"]*\)".*/\1/p')"

# <uses-permission android:name="…"/> (and uses-permission-sdk-23), one per line.
perms="$(tr '\n' ' ' <"$manifest" | sed 's/</\n</g' |
  sed -n 's/^<uses-permission\(-sdk-23\)\{0,1\}[[:space:]][^>]*android:name="\([^"]*\)".*/\2/p' | sort -u)"
nperms="$(printf '%s' "$perms" | grep -c . || true)"
shown="$(printf '%s\n' "$perms" | head -n 25 | paste -sd, - | sed 's/,/, /g')"
[ "$nperms" -gt 25 ] && shown="$shown, … ($((nperms - 25)) more)"

{
  echo "package: ${pkg:-unknown}"
  echo "version: ${vname:-?} (versionCode ${vcode:-?})${minsdk:+, minSdk $minsdk}${targetsdk:+, targetSdk $targetsdk}"
  if [ "$nperms" -gt 0 ]; then
    echo "permissions ($nperms): $shown"
  else
    echo "permissions: none requested"
  fi
} >"$summary"
cat "$summary" >&2
