#!/usr/bin/env bash
# get_maintainer.pl sends the series to the char-misc maintainers and lists
# and to whoever the series is from (its MAINTAINERS entry), every message
# is addressed to all of them (To:/Cc:, plus linux-api), and git send-email
# accepts the series (dry run: nothing is sent).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

src=${MP3PROF_SRC:-$(src_dir)}
mapfile -t patches < <(series_patches | sed "s|^|$PATCHES/|")
from=$(series_from) || die "no series to check"
email=${from##*<} email=${email%>}
to=$(cd "$src" && scripts/get_maintainer.pl --no-git --no-git-fallback "${patches[@]}")
echo "$to"
for who in "Arnd Bergmann" "Greg Kroah-Hartman" "linux-kernel@vger.kernel.org" "<$email>"; do
	grep -qF "$who" <<<"$to" || die "get_maintainer.pl does not name $who"
done

# The recipients: every address get_maintainer.pl names (but the author's,
# who sends it), and linux-api, in the header of every message.
mapfile -t addrs < <({ sed -E 's/ \(.*\)$//; s/.*<([^>]*)>.*/\1/' <<<"$to"; echo linux-api@vger.kernel.org; } |
	grep -vxF "$email")
for p in "$PATCHES/0000-cover-letter.patch" "${patches[@]}"; do
	hdr=$(sed '/^$/q' "$p")
	for a in "${addrs[@]}"; do
		grep -qF "$a" <<<"$hdr" || die "${p##*/}: $a is not among its To:/Cc:"
	done
done
echo "To:/Cc: of all $((${#patches[@]} + 1)) messages name the ${#addrs[@]} recipients: the addresses above but $email, and linux-api"

# As whoever the series is from: send-email asks git for an author and a
# committer identity, which a fresh machine does not have.
say "git send-email --dry-run"
name=${from% <*}
GIT_AUTHOR_NAME=$name GIT_AUTHOR_EMAIL=$email GIT_COMMITTER_NAME=$name GIT_COMMITTER_EMAIL=$email \
	git -C "$src" send-email --dry-run --no-smtp-auth --confirm=never \
	--smtp-server=/bin/true --from="$from" \
	"$PATCHES/0000-cover-letter.patch" "${patches[@]}" </dev/null >/tmp/send-email.$$ 2>&1 ||
	{ cat /tmp/send-email.$$; rm -f /tmp/send-email.$$; die "git send-email --dry-run failed"; }
grep -c '^Dry-OK\|^Result: OK\|Dry-Sent' /tmp/send-email.$$ || true
rm -f /tmp/send-email.$$
echo "git send-email --dry-run: $((${#patches[@]} + 1)) messages accepted"
