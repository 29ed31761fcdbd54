"""The official message texts by rule id (XRechnung Schematron and the Peppol BIS rules it
takes over), whitespace-normalised; ``<name/>`` and ``<mimeCode/>`` are filled in per finding."""

from __future__ import annotations

SKONTO_REGEX = (r"(^|\r?\n)#(SKONTO)#TAGE=([0-9]+#PROZENT=[0-9]+\.[0-9]{2})"
                r"(#BASISBETRAG=-?[0-9]+\.[0-9]{2})?#$")

MESSAGES: dict[str, str] = {
    "BR-DE-1":
        ('[BR-DE-1] Eine Rechnung (INVOICE) muss Angaben zu "PAYMENT INSTRUCTIONS" (BG-16) '
         'enthalten.'),
    "BR-DE-2":
        '[BR-DE-2] Die Gruppe "SELLER CONTACT" (BG-6) muss übermittelt werden.',
    "BR-DE-3":
        '[BR-DE-3] Das Element "Seller city" (BT-37) muss übermittelt werden.',
    "BR-DE-4":
        '[BR-DE-4] Das Element "Seller post code" (BT-38) muss übermittelt werden.',
    "BR-DE-5":
        '[BR-DE-5] Das Element "Seller contact point" (BT-41) muss übermittelt werden.',
    "BR-DE-6":
        '[BR-DE-6] Das Element "Seller contact telephone number" (BT-42) muss übermittelt werden.',
    "BR-DE-7":
        '[BR-DE-7] Das Element "Seller contact email address" (BT-43) muss übermittelt werden.',
    "BR-DE-8":
        '[BR-DE-8] Das Element "Buyer city" (BT-52) muss übermittelt werden.',
    "BR-DE-9":
        '[BR-DE-9] Das Element "Buyer post code" (BT-53) muss übermittelt werden.',
    "BR-DE-10":
        ('[BR-DE-10] Das Element "Deliver to city" (BT-77) muss übermittelt werden, wenn die '
         'Gruppe "DELIVER TO ADDRESS" (BG-15) übermittelt wird.'),
    "BR-DE-11":
        ('[BR-DE-11] Das Element "Deliver to post code" (BT-78) muss übermittelt werden, wenn die '
         'Gruppe "DELIVER TO ADDRESS" (BG-15) übermittelt wird.'),
    "BR-DE-14":
        '[BR-DE-14] Das Element "VAT category rate" (BT-119) muss übermittelt werden.',
    "BR-DE-15":
        '[BR-DE-15] Das Element "Buyer reference" (BT-10) muss übermittelt werden.',
    "BR-DE-16":
        ('[BR-DE-16] Wenn in einer Rechnung die Steuercodes S, Z, E, AE, K, G, L oder M verwendet '
         'werden, muss mindestens eines der Elemente "Seller VAT identifier" (BT-31), "Seller tax '
         'registration identifier" (BT-32) oder "SELLER TAX REPRESENTATIVE PARTY" (BG-11) '
         'übermittelt werden.'),
    "BR-DE-17":
        ('[BR-DE-17] Mit dem Element "Invoice type code" (BT-3) sollen ausschließlich folgende '
         'Codes aus der Codeliste UNTDID 1001 übermittelt werden: 326 (Partial invoice), 380 '
         '(Commercial invoice), 384 (Corrected invoice), 389 (Self-billed invoice) und 381 (Credit'
         ' note),875 (Partial construction invoice), 876 (Partial final construction invoice), 877'
         ' (Final construction invoice).'),
    "BR-DE-18": (
        '[BR-DE-18] Skonto Zeilen in <name/> müssen diesem regulärem Ausdruck entsprechen: '
        + SKONTO_REGEX +
        ('. Die Informationen zur Gewährung von Skonto müssen wie folgt im Element "Payment terms"'
         ' (BT-20) übermittelt werden: Anzugeben ist im ersten Segment "SKONTO", im zweiten '
         '"TAGE=n", im dritten "PROZENT=n". Prozentzahlen sind ohne Vorzeichen sowie mit Punkt '
         'getrennt von zwei Nachkommastellen anzugeben. Liegt dem zu berechnenden Betrag nicht '
         'BT-115, "fälliger Betrag" zugrunde, sondern nur ein Teil des fälligen Betrags der '
         'Rechnung, ist der Grundwert zur Berechnung von Skonto als viertes Segment '
         '"BASISBETRAG=n" gemäß dem semantischen Datentypen Amount anzugeben. Jeder Eintrag '
         'beginnt mit einer #, die Segmente sind mit einer # getrennt und eine Zeile schließt mit '
         'einer # ab. Am Ende einer vollständigen Skontoangabe muss ein XML-konformer '
         'Zeilenumbruch folgen. Alle Angaben zur Gewährung von Skonto müssen in Großbuchstaben '
         'gemacht werden. Zusätzliches Whitespace (Leerzeichen, Tabulatoren oder Zeilenumbrüche) '
         'ist nicht zulässig. Andere Zeichen oder Texte als in den oberen Vorgaben genannt sind '
         'nicht zulässig.')),
    "BR-DE-19":
        ('[BR-DE-19] "Payment account identifier" (BT-84) soll eine korrekte IBAN enthalten, wenn '
         'in "Payment means type code" (BT-81) mit dem Code 58 SEPA als Zahlungsmittel gefordert '
         'wird.'),
    "BR-DE-20":
        ('[BR-DE-20] "Debited account identifier" (BT-91) soll eine korrekte IBAN enthalten, wenn '
         'in "Payment means type code" (BT-81) mit dem Code 59 SEPA als Zahlungsmittel gefordert '
         'wird.'),
    "BR-DE-21":
        ('[BR-DE-21] Das Element "Specification identifier" (BT-24) soll syntaktisch der Kennung '
         'des Standards XRechnung entsprechen.'),
    "BR-DE-22":
        ('[BR-DE-22] Das "filename"-Attribut aller "EmbeddedDocumentBinaryObject"-Elemente muss '
         'eindeutig sein'),
    "BR-DE-23-a":
        ('[BR-DE-23-a] Wenn BT-81 "Payment means type code" einen Schlüssel für Überweisungen '
         'enthält (30, 58), muss BG-17 "CREDIT TRANSFER" übermittelt werden.'),
    "BR-DE-23-b":
        ('[BR-DE-23-b] Wenn BT-81 "Payment means type code" einen Schlüssel für Überweisungen '
         'enthält (30, 58), dürfen BG-18 und BG-19 nicht übermittelt werden.'),
    "BR-DE-24-a":
        ('[BR-DE-24-a] Wenn BT-81 "Payment means type code" einen Schlüssel für Kartenzahlungen '
         'enthält (48, 54, 55), muss genau BG-18 "PAYMENT CARD INFORMATION" übermittelt werden.'),
    "BR-DE-24-b":
        ('[BR-DE-24-b] Wenn BT-81 "Payment means type code" einen Schlüssel für Kartenzahlungen '
         'enthält (48, 54, 55), dürfen BG-17 und BG-19 nicht übermittelt werden.'),
    "BR-DE-25-a":
        ('[BR-DE-25-a] Wenn BT-81 "Payment means type code" einen Schlüssel für Lastschriften '
         'enthält (59), muss genau BG-19 "DIRECT DEBIT" übermittelt werden.'),
    "BR-DE-25-b":
        ('[BR-DE-25-b] Wenn BT-81 "Payment means type code" einen Schlüssel für Lastschriften '
         'enthält (59), dürfen BG-17 und BG-18 nicht übermittelt werden.'),
    "BR-DE-26":
        ('[BR-DE-26] Wenn im Element "Invoice type code" (BT-3) der Code 384 (Corrected invoice) '
         'übergeben wird, soll PRECEDING INVOICE REFERENCE BG-3 mind. einmal vorhanden sein.'),
    "BR-DE-27":
        '[BR-DE-27] In BT-42 sollen mindestens drei Ziffern enthalten sein.',
    "BR-DE-28":
        ('[BR-DE-28] In BT-43 soll genau ein @-Zeichen enthalten sein, welches nicht von einem '
         'Leerzeichen, einem Punkt, aber mindestens zwei Zeichen auf beiden Seiten flankiert '
         'werden soll. Ein Punkt sollte nicht am Anfang oder am Ende stehen.'),
    "BR-DE-30":
        ('[BR-DE-30] Wenn "DIRECT DEBIT" BG-19 vorhanden ist, dann muss "Bank assigned creditor '
         'identifier" BT-90 übermittelt werden.'),
    "BR-DE-31":
        ('[BR-DE-31] Wenn "DIRECT DEBIT" BG-19 vorhanden ist, dann muss "Debited account '
         'identifier" BT-91 übermittelt werden.'),
    "BR-DE-CVD-01":
        '[BR-DE-CVD-01] Das Element <name/> "Contract reference" (BT-12) muss übermittelt werden.',
    "BR-DE-CVD-02":
        ('[BR-DE-CVD-02] Das Element <name/> "Tender or lot reference" (BT-17) muss übermittelt '
         'werden.'),
    "BR-DE-CVD-03":
        ('[BR-DE-CVD-03] In einer Rechnung muss mindestens eine <name/> INVOICE LINE (BG-25) '
         'enthalten sein, in der der Scheme identifier von <name/> "Item classification '
         'identifier" (BT-158) den Wert \'CVD\' und der <name/> "Item attribute name" (BT-160) den '
         "Wert 'cva' enthält."),
    "BR-DE-CVD-04":
        ('[BR-DE-CVD-04] Ein <name/> "Item classification identifier" (BT-158) mit dem Scheme '
         "identifier 'CVD' muss einen Wert aus der Liste der zulässigen Fahrzeugkategorien "
         'enthalten.'),
    "BR-DE-CVD-05":
        ('[BR-DE-CVD-05] Wenn innerhalb von <name/> ITEM ATTRIBUTES (BG-32) der <name/> "Item '
         'attribute name" (BT-160) den Wert \'cva\' hat, muss der <name/> "Item attribute value" '
         '(BT-161) einen der zulässigen Werte enthalten.'),
    "BR-DE-CVD-06-a":
        ('[BR-DE-CVD-06-a] Wenn der Scheme identifier von <name/> "Item classification identifier"'
         " (BT-158) mit dem Wert 'CVD' angegeben ist, muss in derselben Rechnungszeile genau ein "
         '<name/> "Item attribute name" (BT-160) mit dem Wert \'cva\' vorhanden sein.'),
    "BR-DE-CVD-06-b":
        ('[BR-DE-CVD-06-b] Wenn <name/> "Item attribute name" (BT-160) mit dem Wert \'cva\' '
         'angegeben ist, muss in derselben Rechnungszeile genau ein <name/> "Item classification '
         'identifier" (BT-158) mit dem Scheme identifier \'CVD\' vorhanden sein.'),
    "BR-DE-TMP-32":
        ('[BR-DE-TMP-32] Eine Rechnung sollte zur Angabe des Liefer-/Leistungsdatums entweder '
         'BT-72 "Actual delivery date", BG-14 "Invoicing period" oder in jeder Rechnungsposition '
         'BG-26 "Invoice line period" enthalten.'),
    "BR-DEX-01":
        ('[BR-DEX-01] Das Element <name/> "Attached Document" (BT-125) benutzt einen nicht '
         'zulässigen MIME-Code: <mimeCode/>. Im Falle einer Extension darf zusätzlich zu der Liste'
         ' der mime codes (definiert in Abschnitt 8.2, "Binary Object") der MIME-Code '
         'application/xml genutzt werden.'),
    "BR-DEX-02":
        ('[BR-DEX-02] Der Wert von "Invoice line net amount" (BT-131) einer "INVOICE LINE" (BG-25)'
         ' oder einer "SUB INVOICE LINE" (BG-DEX-01) soll der Summe der "Invoice line net amount" '
         '(BT-131) der direkt darunterliegenden "SUB INVOICE LINE" (BG-DEX-01) entsprechen.'),
    "BR-DEX-03":
        ('[BR-DEX-03] Eine Sub Invoice Line (BG-DEX-01) muss genau eine "SUB INVOICE LINE VAT '
         'INFORMATION" (BG-DEX-06) enthalten.'),
    "BR-DEX-04":
        ('[BR-DEX-04] Any scheme identifier in <name/> MUST be coded using one of the ISO 6523 ICD'
         ' list.'),
    "BR-DEX-05":
        ('[BR-DEX-05] Any scheme identifier in <name/> MUST be coded using one of the ISO 6523 ICD'
         ' list.'),
    "BR-DEX-06":
        ('[BR-DEX-06] Any scheme identifier in <name/> MUST be coded using one of the ISO 6523 ICD'
         ' list.'),
    "BR-DEX-07":
        ('[BR-DEX-07] Any scheme identifier for an Endpoint Identifier in <name/> MUST belong to '
         'the CEF EAS code list.'),
    "BR-DEX-08":
        ('[BR-DEX-08] Any scheme identifier for a Delivery location identifier in <name/> MUST be '
         'coded using one of the ISO 6523 ICD list.'),
    "BR-DEX-09":
        ('[BR-DEX-09] Amount due for payment (BT-115) = Invoice total amount with VAT (BT-112) - '
         'Paid amount (BT-113) + Rounding amount (BT-114) + Σ Third party payment amount '
         '(BT-DEX-002).'),
    "BR-DEX-10":
        ('[BR-DEX-10] Das Element "Third party payment type" BT-DEX-001 muss übermittelt werden, '
         'wenn die Gruppe "THIRD PARTY PAYMENT" (BG-DEX-09) übermittelt wird.'),
    "BR-DEX-11":
        ('[BR-DEX-11] Das Element "Third party payment amount" BT-DEX-002 muss übermittelt werden,'
         ' wenn die Gruppe "THIRD PARTY PAYMENT" (BG-DEX-09) übermittelt wird.'),
    "BR-DEX-12":
        ('[BR-DEX-12] Das Element "Third party payment description" BT-DEX-003 muss übermittelt '
         'werden, wenn die Gruppe "THIRD PARTY PAYMENT" (BG-DEX-09) übermittelt wird.'),
    "BR-DEX-13":
        ('[BR-DEX-13] Die maximale Anzahl zulässiger Nachkommastellen für das Element "Third party'
         ' payment amount" (BT-DEX-002) ist 2.'),
    "BR-DEX-14":
        ('[BR-DEX-14] Die Währungsangabe von "Third party payment amount" BT-DEX-002 muss BT-5 '
         '("Invoice currency code") entsprechen.'),
    "BR-DEX-15":
        ('[BR-DEX-15] This CII file might use the concept of Sub Invoice Lines. However XRechnung '
         'does not support this.'),
    "BR-TMP-2":
        ('[BR-TMP-2] BT-124 "External document location" muss eine absolute URL mit gültigem '
         'Schema enthalten.'),
    "BR-TMP-3":
        ('[BR-TMP-3] Wenn BT-149 (Item price base quantity) sowohl in GrossPriceProductTradePrice '
         'als auch in NetPriceProductTradePrice vorhanden ist, müssen die Werte identisch sein. '
         'Wenn BT-150 (unit of measure code) auf dem NetPrice-Pfad vorhanden ist, muss es auch auf'
         ' dem GrossPrice-Pfad vorhanden und identisch sein.'),
    "BR-TMP-CVD-01":
        ('[BR-TMP-CVD-01] Das Bildungsschema für <name/> "Item classification identifier" (BT-158)'
         ' ist aus der Codeliste UNTDID 7143 zu wählen.'),
    "PEPPOL-EN16931-R001":
        'Business process MUST be provided.',
    "PEPPOL-EN16931-R005":
        'VAT accounting currency code MUST be different from invoice currency code when provided.',
    "PEPPOL-EN16931-R008":
        'Document MUST not contain empty elements.',
    "PEPPOL-EN16931-R010":
        'Buyer electronic address MUST be provided',
    "PEPPOL-EN16931-R020":
        'Seller electronic address MUST be provided',
    "PEPPOL-EN16931-R040":
        ('Allowance/charge amount must equal base amount * percentage/100 if base amount and '
         'percentage exists'),
    "PEPPOL-EN16931-R041":
        ('Allowance/charge base amount MUST be provided when allowance/charge percentage is '
         'provided.'),
    "PEPPOL-EN16931-R042":
        ('Allowance/charge percentage MUST be provided when allowance/charge base amount is '
         'provided.'),
    "PEPPOL-EN16931-R043":
        "Allowance/charge ChargeIndicator value MUST equal 'true' or 'false'",
    "PEPPOL-EN16931-R044":
        "Charge on price level is NOT allowed. Only value 'false' allowed.",
    "PEPPOL-EN16931-R046":
        'Item net price MUST equal (Gross price - Allowance amount) when gross price is provided.',
    "PEPPOL-EN16931-R053":
        'Only one tax total with tax subtotals MUST be provided.',
    "PEPPOL-EN16931-R054":
        ('Only one tax total without tax subtotals MUST be provided when tax currency code is '
         'provided.'),
    "PEPPOL-EN16931-R055":
        ('Invoice total VAT amount and Invoice total VAT amount in accounting currency MUST have '
         'the same operational sign'),
    "PEPPOL-EN16931-R061":
        'Mandate reference MUST be provided for direct debit.',
    "PEPPOL-EN16931-R101":
        'Element Document reference can only be used for Invoice line object',
    "PEPPOL-EN16931-R110":
        'Start date of line period MUST be within invoice period.',
    "PEPPOL-EN16931-R111":
        'End date of line period MUST be within invoice period.',
    "PEPPOL-EN16931-R120":
        ('Invoice line net amount MUST equal (Invoiced quantity * (Item net price/item price base '
         'quantity) + Sum of invoice line charge amount - sum of invoice line allowance amount'),
    "PEPPOL-EN16931-R121":
        'Base quantity MUST be a positive number above zero.',
    "PEPPOL-EN16931-R130":
        'Unit code of price base quantity MUST be same as invoiced quantity.',
}

# where the CII rules word a message differently
CII_MESSAGES: dict[str, str] = {
    "BR-DE-18": MESSAGES["BR-DE-18"].replace(" müssen diesem", " muessen diesem"),
    "BR-DE-22":
        "[BR-DE-22] Not all filename attributes of the embeddedDocumentBinaryObject elements are "
        "unique",
    "BR-DE-26": MESSAGES["BR-DE-26"].replace('"Invoice type code"', "Invoice type code"),
    "PEPPOL-EN16931-R053":
        "No more than one tax total amount must be provided where currency id equals document "
        "currency code.",
    "PEPPOL-EN16931-R054":
        "Only one tax total amount must be provided where currency id equals tax currency code, "
        "if tax currency code (BT-6) is provided.",
    "PEPPOL-EN16931-R101":
        "Element Additional referenced document can only be used for Invoice line object.",
}
CII_MESSAGES["PEPPOL-EN16931-R043-1"] = CII_MESSAGES["PEPPOL-EN16931-R043-2"] = MESSAGES[
    "PEPPOL-EN16931-R043"]
