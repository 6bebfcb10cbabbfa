#!/usr/bin/env bash
# apply-citations.sh rewrites citations of the old external spec in Go
# comments and help text ("spec §6.7", "coldint.md §2.1", "hub.md §5.8",
# "libtorch.md §8 rule 3", bare "§6.10", ...) into links to this repository's
# docs ("docs/scoring.md#per-sample-loss"). It is idempotent: rewritten text
# holds no "§", so a second run changes nothing.
#
# Usage (from the repository root):
#   docs/apply-citations.sh [DIR|FILE ...]   rewrite in place (default: the whole module)
#   docs/apply-citations.sh --list [...]     print "<citation>\t<docs link>" for every
#                                             distinct citation found, change nothing
#
# A citation split over two comment lines ("due (spec\n// §6.12)") moves whole
# to the second line ("due\n// (docs/validator.md#setting-weights)"). A few sections are
# refined by the words around the citation (see %Q and ctx_target). Lines
# that talk about the spec file itself (tests reading ../shared) are left
# alone.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=apply
if [[ ${1:-} == --list ]]; then
	mode=list
	shift
fi
[[ $# -gt 0 ]] || set -- .

mapfile -t files < <(find "$@" -name '*.go' -not -path './.build/*' -not -path '.build/*' | sort)
[[ ${#files[@]} -gt 0 ]] || exit 0

MODE=$mode perl -CSDA -Mutf8 -MList::Util=max -0777 -n -e '
BEGIN {
	# coldint.md (the reference validator) sections → docs.
	%C = (
		"1" => "validator.md#constants-and-defaults",
		"2" => "hashing.md#commitment-format",
		"2.1" => "hashing.md#commitment-format",
		"2.2" => "chain.md#commitments",
		"2.3" => "chain.md#block-numbers-as-time",
		"3" => "hashing.md#model-hash",
		"3.1" => "hashing.md#file-hash",
		"3.2" => "hashing.md#directory-hash",
		"3.3" => "hashing.md#salted-hash",
		"3.4" => "hashing.md#download-allow-list",
		"3.5" => "hashing.md#where-miner-and-validator-agree",
		"3.6" => "hashing.md#where-miner-and-validator-agree",
		"3.7" => "hashing.md#test-vectors",
		"4" => "validator.md#competitionsjson",
		"4.1" => "validator.md#competitionsjson",
		"4.2" => "validator.md#competition-keys",
		"5" => "validator.md#hall-of-fame",
		"6" => "validator.md#overview",
		"6.1" => "validator.md#the-loop",
		"6.2" => "validator.md#metagraph-and-top-miners",
		"6.3" => "validator.md#commitments-and-dedup",
		"6.4" => "validator.md#visiting-uids",
		"6.5" => "validator.md#syncing-a-model",
		"6.6" => "validator.md#a-step",
		"6.7" => "scoring.md#per-sample-loss",
		"6.8" => "validator.md#the-eval-cache",
		"6.9" => "scoring.md#grouping-samples",
		"6.10" => "scoring.md#win-rate",
		"6.10.2" => "scoring.md#time-advantage",
		"6.10.5" => "scoring.md#win-matrix",
		"6.10.7" => "scoring.md#worked-example",
		"6.11" => "scoring.md#from-win-rates-to-weights",
		"6.11.1" => "scoring.md#from-win-rates-to-weights",
		"6.11.2" => "scoring.md#pool-and-discards",
		"6.11.3" => "scoring.md#pool-and-discards",
		"6.11.4" => "scoring.md#combining-competitions",
		"6.12" => "validator.md#setting-weights",
		"6.13" => "validator.md#step-json",
		"6.14" => "validator.md#state",
		"6.15" => "validator.md#disk-policy",
		"7" => "hub.md#datasets-server",
		"8" => "mining.md",
		"8.1" => "mining.md#training",
		"8.2" => "mining.md#publishing",
		"9" => "engine.md#supported-models",
		"9.1" => "engine.md#supported-models",
		"9.2" => "engine.md#sliced-evaluation",
		"9.3" => "surgery.md#what-the-surgeon-guarantees",
		"11" => "validator.md#metagraph-and-top-miners",
		"12" => "validator.md#fixed-quirks",
		"13" => "validator.md#the-loop",
		"14" => "validator.md#hall-of-fame",
	);
	# A quoted section name after a coldint.md citation refines the target.
	%Q = (
		"6.7|Selection" => "validator.md#selecting-models",
		"6.7|Loss" => "scoring.md#per-sample-loss",
		"6.7|vocabulary check" => "scoring.md#vocabulary-check",
		"6.4|A visit" => "validator.md#visiting-uids",
	);
	# Ranges that span a whole document.
	%R = ("4–§6" => "validator.md");
	%H = (  # hub.md
		"3" => "hub.md#text-corpus",
		"5" => "hub.md#http-client",
		"5.5" => "hub.md#uploads",
		"5.8" => "hub.md#datasets-server",
	);
	%L = (  # libtorch.md
		"6" => "engine.md#the-gotch-patch",
		"8" => "engine.md#rules-for-libtorch-code",
	);
	%A = ("7.2" => "README.md#package-layering");  # design/architecture.md
	%B = ("spec has no §3" => 1, "spec §3 does not contain" => 1,
		"../shared/spec/coldint.md §3.7 (skipped" => 1,
		# subtest names in eval/score_test.go are not comments
		"\"§6.10 u1" => 1, "\"§6.10 u2" => 1, "\"§6.10 u3" => 1);
	$SEP = qr{(?:[ \t]+|[ \t]*\n[ \t]*//[ \t]*)};
	$NUM = qr{\d+(?:\.\d+)*};
	$PRE = qr{(?<pre>(?:\.\./)?shared/spec/coldint\.md|spec[ \t]+coldint\.md|coldint[ \t]+spec|shared[ \t]+spec|coldint\.md|\bspec
		|(?<hub>(?:\.\./)?(?:shared/)?(?:spec/)?hub\.md)
		|(?<lt>(?:\.\./)?(?:shared/)?(?:spec/)?libtorch\.md)
		|(?<arch>(?:\.\./)?(?:shared/)?design/architecture\.md))}x;
	# ctx_target refines a coldint.md section by the words around it.
	sub ctx_target {
		my ($sec, $around) = @_;
		if ($sec eq "6.7") {
			return "scoring.md#vocabulary-check" if $around =~ /embedding rows|vocabulary/i;
			return "scoring.md#tokenisation" if $around =~ /tokeni[sz]|\bBOS\b|\bEOS\b|cap_sample_len|capped|round.trip|character cap/i;
		}
		return "surgery.md#grow-hidden" if $sec eq "9.3" && $around =~ /norm_divisor|GrowHidden|residual/;
		return "surgery.md#swap-tokenizer" if $sec eq "9.3" && $around =~ /tokenizer/i;
		return undef;
	}
	sub target {
		my ($map, $sec) = @_;
		while (1) {
			return $map->{$sec} if exists $map->{$sec};
			return undef unless $sec =~ s/\.\d+$//;
		}
	}
}
my $file = $ARGV;
my $text = $_;
my $out = $text;
# Protect lines about the spec file itself.
my @keep;
for my $b (keys %B) {
	my $q = quotemeta $b;
	$out =~ s{$q}{push @keep, $b; "\x00KEEP" . $#keep . "\x00"}ge;
}
$out =~ s{(?:(?<lead>[ \t]*\(?)$PRE(?<sep>$SEP))?§(?<sec>$NUM)(?<range>[–-]§?$NUM)?(?<rule>[ \t]+rule[ \t]+\d+)?}{
	# Take every capture first: the matches below reset them.
	my ($whole, $sec, $range, $rule) = ($&, $+{sec}, $+{range} // "", $+{rule} // "");
	my ($lead, $sep) = ($+{lead} // "", $+{sep} // "");
	my $map = defined $+{hub} ? \%H : defined $+{lt} ? \%L : defined $+{arch} ? \%A : \%C;
	my $after = substr($out, $+[0], 60);
	my $t = target($map, $sec);
	$t = $R{"$sec$range"} if $map == \%C && exists $R{"$sec$range"};
	my $before = substr($out, max(0, $-[0] - 60), $-[0] - max(0, $-[0] - 60));
	if ($map == \%C) {
		my $c = ctx_target($sec, "$before $whole $after");
		$t = $c if defined $c;
	}
	my $quoted = "";
	if ($map == \%C && $after =~ /^$SEP?"([^"\n]+)"/ && exists $Q{"$sec|$1"}) {
		$t = $Q{"$sec|$1"};
		$quoted = " \"$1\"";
	}
	if (!defined $t) {
		print STDERR "$file: no docs target for \"" . substr($whole, length $lead) . "\"\n";
		$unmapped++;
		$whole;
	} else {
		my $link = "docs/$t";
		$link .= ", rule $1" if $rule =~ /(\d+)/;
		(my $shown = substr($whole, length $lead) . $quoted) =~ s{[ \t]*\n[ \t]*//[ \t]*}{ }g;
		$seen{"$shown\t$link"} = 1;
		if ($sep =~ /\n([ \t]*)\/\//) {
			# The citation started at the end of a comment line: move it,
			# with its opening parenthesis, to the start of the next one.
			(my $paren = $lead) =~ s/[ \t]//g;
			"\n$1// $paren$link";
		} else {
			"$lead$link";
		}
	}
}ge;
$out =~ s{\x00KEEP(\d+)\x00}{$keep[$1]}g;
if ($ENV{MODE} eq "apply" && $out ne $text) {
	open(my $fh, ">", $file) or die "write $file: $!";
	print $fh $out;
	close $fh;
	$changed++;
	print STDERR "rewrote $file\n";
}
END {
	if ($ENV{MODE} eq "list") { print "$_\n" for sort keys %seen; }
	printf STDERR "%d citation strings, %d files rewritten, %d unmapped\n",
		scalar(keys %seen), $changed // 0, $unmapped // 0;
	exit 1 if $unmapped;
}
' "${files[@]}"
